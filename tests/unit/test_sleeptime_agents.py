"""What `enable_sleeptime` makes (Letta 0.11.7's agents, tools, rules and groups), and how
the sleeptime and voice sleeptime agents' tools and rules run, on in-memory fakes."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from core.llm import ChatRequest, ChatResponse, ToolCall, Usage
from core.paging import PageRequest
from core.persistence.unit_of_work import UnitOfWork
from core.records import AgentRecord, BlockRecord, GroupRecord, MessageRecord
from core.runtime.agent_loop import AgentLoop, TurnOptions
from core.schemas.agents import AgentState, CreateAgentRequest, UpdateAgent
from core.services.agents import AgentService
from tests.fakes import FakeClock, InMemoryStore, ScriptedModel

TENANT = "tenant-sleeptime"
HUMAN = {"label": "human", "value": "Name: Sam"}


class Env:
    def __init__(self) -> None:
        self.store, self.clock, self.model = InMemoryStore(), FakeClock(), ScriptedModel()
        self.agents = AgentService(self.store, self.clock, "offline/default")
        self.loop = AgentLoop(self.store, self.clock, self.model)

    def create(self, **fields: Any) -> AgentState:
        return self.agents.create(TENANT, CreateAgentRequest(**fields))

    def record(self, kind: type[Any], record_id: str) -> Any:
        found = self.store.get(TENANT, kind, record_id)
        assert found is not None
        return found

    def turn(self, agent_id: str, text: str) -> Any:
        message = MessageRecord(
            id=f"message-{uuid.uuid4()}",
            created_at=self.clock.now(),
            parent_id=agent_id,
            seq=0,
            role="user",
            text=text,
        )
        return self.loop.run(TENANT, agent_id, [message], TurnOptions())


@pytest.fixture
def env() -> Env:
    return Env()


def call(name: str, **arguments: Any) -> ChatResponse:
    return ChatResponse(
        text=None,
        tool_calls=(ToolCall(f"call-{uuid.uuid4().hex[:8]}", name, json.dumps(arguments)),),
        usage=Usage(5, 3),
        finish_reason="tool_calls",
    )


def offered(request: ChatRequest) -> list[str]:
    return [tool.name for tool in request.tools]


# -- what enable_sleeptime makes ---------------------------------------------------------------


def test_enable_sleeptime_makes_a_sleeptime_agent_with_lettas_tools_and_rules(env: Env) -> None:
    main = env.create(name="ella", enable_sleeptime=True, memory_blocks=[HUMAN])
    group = main.multi_agent_group
    assert group is not None
    assert (group.manager_type, group.manager_agent_id) == ("sleeptime", main.id)
    assert group.sleeptime_agent_frequency == 5
    [sleeper_id] = group.agent_ids
    sleeper: AgentRecord = env.record(AgentRecord, sleeper_id)
    assert (sleeper.name, sleeper.agent_type) == ("ella-sleeptime", "sleeptime_agent")
    assert sleeper.tool_names == [
        "memory_insert",
        "memory_replace",
        "memory_rethink",
        "memory_finish_edits",
    ]
    assert [(r["type"], r["tool_name"]) for r in sleeper.tool_rules or []] == [
        ("continue_loop", "memory_insert"),
        ("continue_loop", "memory_replace"),
        ("continue_loop", "memory_rethink"),
        ("exit_loop", "memory_finish_edits"),
    ]
    assert sleeper.block_ids == [b.id for b in main.memory.blocks]


def test_a_voice_agent_gets_a_voice_sleeptime_group_and_agent(env: Env) -> None:
    main = env.create(
        name="vera", agent_type="voice_convo_agent", enable_sleeptime=True, memory_blocks=[HUMAN]
    )
    assert [t.name for t in main.tools] == ["search_memory", "send_message"]
    group = main.multi_agent_group
    assert group is not None
    assert group.manager_type == "voice_sleeptime"
    assert (group.max_message_buffer_length, group.min_message_buffer_length) == (30, 15)
    assert group.sleeptime_agent_frequency is None
    [sleeper_id] = group.agent_ids
    sleeper: AgentRecord = env.record(AgentRecord, sleeper_id)
    assert sleeper.agent_type == "voice_sleeptime_agent"
    assert sleeper.tool_names == [
        "store_memories",
        "rethink_user_memory",
        "finish_rethinking_memory",
    ]
    assert [(r["type"], r["tool_name"]) for r in sleeper.tool_rules or []] == [
        ("run_first", "store_memories"),
        ("constrain_child_tools", "store_memories"),
        ("continue_loop", "rethink_user_memory"),
        ("exit_loop", "finish_rethinking_memory"),
    ]
    assert sleeper.tool_rules is not None
    assert sleeper.tool_rules[1]["children"] == ["rethink_user_memory"]


def test_base_rules_add_to_the_callers_and_can_be_left_out(env: Env) -> None:
    mine = {"type": "exit_loop", "tool_name": "memory_finish_edits"}
    ruled = env.create(name="s1", agent_type="sleeptime_agent", tool_rules=[mine])
    assert [(r.type, r.tool_name) for r in ruled.tool_rules or []] == [
        ("exit_loop", "memory_finish_edits"),
        ("continue_loop", "memory_insert"),
        ("continue_loop", "memory_replace"),
        ("continue_loop", "memory_rethink"),
    ]
    bare = env.create(name="s2", agent_type="sleeptime_agent", include_base_tool_rules=False)
    assert bare.tool_rules in (None, [])
    plain = env.create(name="p")
    assert plain.tool_rules in (None, [])


def test_deleting_the_main_agent_deletes_its_voice_sleeptime_agent_and_group(env: Env) -> None:
    main = env.create(name="vera", agent_type="voice_convo_agent", enable_sleeptime=True)
    assert main.multi_agent_group is not None
    group_id, [sleeper_id] = main.multi_agent_group.id, main.multi_agent_group.agent_ids
    env.agents.delete(TENANT, main.id)
    assert env.store.get(TENANT, GroupRecord, group_id) is None
    assert env.store.get(TENANT, AgentRecord, sleeper_id) is None


def test_turning_sleeptime_on_later_makes_the_agent_and_group_once(env: Env) -> None:
    main = env.create(name="late", memory_blocks=[HUMAN])
    assert main.multi_agent_group is None
    on = env.agents.update(TENANT, main.id, UpdateAgent(enable_sleeptime=True))
    group = on.multi_agent_group
    assert group is not None and group.manager_type == "sleeptime"
    [sleeper_id] = group.agent_ids
    assert env.record(AgentRecord, sleeper_id).block_ids == [b.id for b in main.memory.blocks]
    again = env.agents.update(TENANT, main.id, UpdateAgent(enable_sleeptime=True))
    assert again.multi_agent_group is not None and again.multi_agent_group.id == group.id
    assert len(env.store.list(TENANT, GroupRecord, PageRequest(limit=10), ())) == 1


# -- the rules at work -------------------------------------------------------------------------


def test_a_sleeptime_pass_goes_on_after_edits_and_stops_at_finish(env: Env) -> None:
    main = env.create(name="ella", enable_sleeptime=True, memory_blocks=[HUMAN])
    assert main.multi_agent_group is not None
    [sleeper] = main.multi_agent_group.agent_ids
    env.model.queue(
        call("memory_insert", label="human", new_str="Likes tea"),
        call("memory_replace", label="human", old_str="Sam", new_str="Samantha"),
        call("memory_finish_edits"),
    )
    result = env.turn(sleeper, "user: I like tea, and I am Samantha")
    assert (result.stop_reason, result.usage.step_count) == ("end_turn", 3)
    block: BlockRecord = env.record(BlockRecord, main.memory.blocks[0].id)
    assert block.value == "Name: Samantha\nLikes tea"
    assert env.model.script == []


def test_a_voice_sleeptime_pass_stores_then_rethinks_then_finishes(env: Env) -> None:
    main = env.create(
        name="vera", agent_type="voice_convo_agent", enable_sleeptime=True, memory_blocks=[HUMAN]
    )
    assert main.multi_agent_group is not None
    [sleeper] = main.multi_agent_group.agent_ids
    chunk = {"start_index": 0, "end_index": 1, "context": "Sam moved to Lisbon."}
    env.model.queue(
        call("store_memories", chunks=[chunk]),
        call("rethink_user_memory", new_memory="Name: Sam\nLives in Lisbon"),
        call("rethink_user_memory", new_memory="Name: Sam\nLives in Lisbon (since May)"),
        call("finish_rethinking_memory"),
    )
    result = env.turn(sleeper, "0: user: I moved to Lisbon in May\n1: vera: Nice!")
    assert (result.stop_reason, result.usage.step_count) == ("end_turn", 4)
    first, second, third, _ = env.model.requests
    assert (offered(first), first.tool_choice) == (["store_memories"], "required")
    assert (offered(second), second.tool_choice) == (["rethink_user_memory"], "required")
    assert "finish_rethinking_memory" in offered(third)
    block: BlockRecord = env.record(BlockRecord, main.memory.blocks[0].id)
    assert block.value == "Name: Sam\nLives in Lisbon (since May)"
    results = [m.text for m in result.messages if m.role == "tool"]
    assert results[0] == "Stored 1 memory chunk(s)."


def test_store_memories_refuses_a_chunk_without_a_synopsis(env: Env) -> None:
    main = env.create(name="vera", agent_type="voice_convo_agent", enable_sleeptime=True)
    assert main.multi_agent_group is not None
    [sleeper] = main.multi_agent_group.agent_ids
    env.model.queue(
        call("store_memories", chunks=[{"start_index": 0, "end_index": 0, "context": " "}]),
        call("rethink_user_memory", new_memory="x"),
        call("finish_rethinking_memory"),
    )
    result = env.turn(sleeper, "0: user: hi")
    tools = [m for m in result.messages if m.role == "tool"]
    assert tools[0].tool_status == "error" and "non-empty context" in (tools[0].text or "")
    # No human block on this agent: the rethink fails back to the model, not the run.
    assert tools[1].tool_status == "error" and "human" in (tools[1].text or "")
    assert result.stop_reason == "end_turn"


def test_search_memory_finds_what_left_the_voice_agents_context(env: Env) -> None:
    main = env.create(
        name="vera", agent_type="voice_convo_agent", enable_sleeptime=True, memory_blocks=[HUMAN]
    )
    env.model.queue(call("send_message", message="Noted, order 4471."))
    env.turn(main.id, "My order number is 4471")
    uow = UnitOfWork(env.store, TENANT, env.clock)
    record = uow.load(AgentRecord, main.id)
    record.context_start_seq = record.next_message_seq  # everything so far left the context
    uow.touch(record)
    uow.commit()

    env.model.queue(
        call(
            "search_memory",
            convo_keyword_queries=["4471"],
            start_minutes_ago=None,
            end_minutes_ago=None,
        ),
        call("send_message", message="Your order is 4471."),
    )
    result = env.turn(main.id, "What was my order number?")
    [found] = [
        m.text for m in result.messages if m.role == "tool" and m.tool_name == "search_memory"
    ]
    hits = json.loads(found or "{}")["convo_keyword_search_results"]["4471"]
    asked = env.model.requests[-2]
    assert not any("4471" in (m.text or "") for m in asked.messages[:-1])
    assert any("My order number is 4471" in hit for hit in hits), hits
