"""The parts of the agent loop that callers steer: lent tools, the model's task, the
pending approval read by key, and commit sizes taken from the store's limits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from core import ids
from core.errors import SendInterruptedError
from core.llm import ChatMessage, ChatRequest, ChatResponse, Reasoning, ToolCall, ToolSpec, Usage
from core.ports import Change, Put, StoreLimits
from core.records import AgentRecord, ChildRecord, MessageRecord
from core.runtime.agent_loop import AgentLoop, TurnOptions, TurnResult, TurnTool
from core.runtime.memory import ToolError
from core.runtime.tool_arguments import InvalidToolCall, parse_arguments
from core.schemas.agents import CreateAgentRequest
from core.schemas.blocks import CreateBlock
from core.schemas.messages import ApprovalCreate, ApprovalDecision
from core.services.agents import AgentService
from core.services.runs import AGENT_TURN, RunService
from infra.launchers import SynchronousLauncher
from infra.providers.offline import OfflineModel
from tests.fakes import FakeClock, InMemoryStore, ScriptedModel

TENANT = "tenant-parts"
C = TypeVar("C", bound=ChildRecord)

LOOKUP = ToolSpec(
    "lookup_member",
    "Look a group member up by name.",
    {
        "type": "object",
        "properties": {"name": {"type": "string"}, "limit": {"type": "integer"}},
        "required": ["name"],
    },
)


class WatchedStore(InMemoryStore):
    """Records how children are read by id and how many changes each write holds."""

    def __init__(self) -> None:
        super().__init__()
        self.found_by_id: list[str] = []
        self.write_sizes: list[int] = []

    def find_child(self, tenant: str, kind: type[C], child_id: str) -> C | None:
        self.found_by_id.append(child_id)
        return super().find_child(tenant, kind, child_id)

    def write(self, tenant: str, changes: Sequence[Change]) -> None:
        self.write_sizes.append(len(changes))
        super().write(tenant, changes)


@dataclass
class Env:
    store: WatchedStore
    clock: FakeClock
    model: ScriptedModel
    loop: AgentLoop
    agents: AgentService

    def agent(self, **fields: Any) -> str:
        fields.setdefault("name", "tester")
        fields.setdefault("system", "Test agent.")
        return self.agents.create(TENANT, CreateAgentRequest(**fields)).id

    def user(self, text: str) -> MessageRecord:
        return MessageRecord(
            id=ids.new_id(ids.MESSAGE),
            created_at=self.clock.now(),
            parent_id="",
            seq=0,
            role="user",
            text=text,
        )

    def turn(self, agent_id: str, text: str = "hello", **options: Any) -> TurnResult:
        return self.loop.run(TENANT, agent_id, [self.user(text)], TurnOptions(**options))

    def saved_agent(self, agent_id: str) -> AgentRecord:
        agent = self.store.get(TENANT, AgentRecord, agent_id)
        assert agent is not None
        return agent


@pytest.fixture
def env() -> Env:
    store, clock, model = WatchedStore(), FakeClock(), ScriptedModel()
    return Env(
        store,
        clock,
        model,
        AgentLoop(store, clock, model),
        AgentService(store, clock, "offline/default"),
    )


def say(text: str) -> ChatResponse:
    return ChatResponse(text=text, usage=Usage(prompt_tokens=10, completion_tokens=2))


def call(name: str, arguments: dict[str, Any] | str, call_id: str) -> ChatResponse:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ChatResponse(
        text=None,
        tool_calls=(ToolCall(call_id, name, args),),
        usage=Usage(prompt_tokens=10, completion_tokens=2),
        finish_reason="tool_calls",
    )


def tool_records(result: TurnResult) -> list[MessageRecord]:
    return [r for r in result.messages if r.role == "tool"]


# -- lent tools ---------------------------------------------------------------------------


def test_a_lent_tool_is_offered_beside_the_agents_own_and_runs_with_its_arguments(
    env: Env,
) -> None:
    agent_id = env.agent(include_base_tools=False, tools=["conversation_search"])
    seen: list[dict[str, Any]] = []

    def lookup(arguments: dict[str, Any]) -> str:
        seen.append(arguments)
        return f"{arguments['name']} is a member."

    env.model.queue(call("lookup_member", {"name": "Ana", "limit": 2}, "c1"), say("Found Ana."))

    result = env.turn(agent_id, extra_tools=(TurnTool(LOOKUP, lookup),))

    assert seen == [{"name": "Ana", "limit": 2}]
    first, second = env.model.requests
    assert [t.name for t in first.tools] == ["conversation_search", "lookup_member"]
    assert first.tools[-1] == LOOKUP
    (returned,) = tool_records(result)
    assert (returned.tool_status, returned.text) == ("success", "Ana is a member.")
    assert second.messages[-1].text == "Ana is a member."
    assert result.stop_reason == "end_turn"


def test_rules_govern_lent_tools_and_force_the_only_one_left(env: Env) -> None:
    agent_id = env.agent(
        include_base_tools=False,
        tools=["conversation_search"],
        tool_rules=[{"type": "run_first", "tool_name": "lookup_member"}],
    )
    env.model.queue(call("lookup_member", {"name": "Ana"}, "c1"), say("Found Ana."))

    env.turn(agent_id, extra_tools=(TurnTool(LOOKUP, lambda _: "a member"),))

    first, second = env.model.requests
    assert [t.name for t in first.tools] == ["lookup_member"]
    assert (first.tool_choice, first.forced_tool) == ("required", "lookup_member")
    assert [t.name for t in second.tools] == ["conversation_search", "lookup_member"]
    assert (second.tool_choice, second.forced_tool) == ("auto", None)


def test_rules_lent_with_a_tool_replace_the_agents_flow_rules_for_the_turn(env: Env) -> None:
    agent_id = env.agent(
        include_base_tools=False,
        tools=["conversation_search"],
        tool_rules=[
            {"type": "run_first", "tool_name": "conversation_search"},
            {"type": "requires_approval", "tool_name": "conversation_search"},
        ],
    )
    lent = TurnTool(
        LOOKUP,
        lambda _: "a member",
        rules=(
            {"type": "run_first", "tool_name": "lookup_member"},
            {
                "type": "constrain_child_tools",
                "tool_name": "lookup_member",
                "children": ["conversation_search"],
            },
        ),
    )
    env.model.queue(
        call("lookup_member", {"name": "Ana"}, "c1"),
        call("conversation_search", {"query": "Ana"}, "c2"),
    )

    result = env.turn(agent_id, extra_tools=(lent,))

    first, second = env.model.requests
    assert first.forced_tool == "lookup_member"
    assert second.forced_tool == "conversation_search"
    # The agent's approval rule still holds: the second call waits for a human.
    assert result.stop_reason == "requires_approval"


def test_legacy_agent_types_ask_for_the_thinking_argument(env: Env) -> None:
    legacy = env.agent(agent_type="memgpt_v2_agent")
    modern = env.agent(agent_type="letta_v1_agent", name="modern")
    env.model.queue(say("hi"), say("hi"))

    env.turn(legacy)
    env.turn(modern)

    assert [r.thinking_argument for r in env.model.requests] == [True, False]


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"limit": 2}, "missing argument(s): name"),
        ({"name": "Ana", "limit": "two"}, "must be of type integer"),
        ('{"name": ', "not valid JSON"),
    ],
)
def test_a_lent_tools_arguments_are_checked_against_its_spec(
    env: Env, arguments: dict[str, Any] | str, says: str
) -> None:
    agent_id = env.agent()
    ran: list[dict[str, Any]] = []

    def lookup(given: dict[str, Any]) -> str:
        ran.append(given)
        return "ran"

    env.model.queue(call("lookup_member", arguments, "c1"), say("never reached"))

    result = env.turn(agent_id, extra_tools=(TurnTool(LOOKUP, lookup),))

    assert ran == []
    assert result.stop_reason == "invalid_tool_call"
    (returned,) = tool_records(result)
    assert returned.tool_status == "error" and says in (returned.text or "")
    assert len(env.model.requests) == 1


def test_a_lent_tools_tool_error_goes_back_to_the_model(env: Env) -> None:
    agent_id = env.agent()

    def refuse(_: dict[str, Any]) -> str:
        raise ToolError("Nobody by that name.")

    env.model.queue(call("lookup_member", {"name": "Zed"}, "c1"), say("No Zed here."))

    result = env.turn(agent_id, extra_tools=(TurnTool(LOOKUP, refuse),))

    (returned,) = tool_records(result)
    assert (returned.tool_status, returned.text) == ("error", "Nobody by that name.")
    assert env.model.requests[1].messages[-1].is_error
    assert result.stop_reason == "end_turn"


def test_a_lent_tool_replaces_the_agents_own_tool_of_the_same_name(env: Env) -> None:
    broadcast = "send_message_to_all_agents_in_group"
    agent_id = env.agent(include_base_tools=False, tools=[broadcast])
    spec = ToolSpec(broadcast, "Lent broadcast.", {"type": "object", "properties": {}})
    env.model.queue(call(broadcast, {}, "c1"), say("Done."))

    result = env.turn(agent_id, extra_tools=(TurnTool(spec, lambda _: "everyone answered"),))

    assert [t.description for t in env.model.requests[0].tools] == ["Lent broadcast."]
    assert tool_records(result)[0].text == "everyone answered"


def test_a_catalog_tool_no_one_lent_is_unavailable_here_not_a_bad_call(env: Env) -> None:
    broadcast = "send_message_to_all_agents_in_group"
    agent_id = env.agent(tools=[broadcast])
    env.model.queue(call(broadcast, {"message": "all hands"}, "c1"), say("I cannot broadcast."))

    result = env.turn(agent_id)

    (returned,) = tool_records(result)
    assert returned.tool_status == "error" and returned.is_err
    assert returned.text == f"Tool {broadcast!r} is not available in this context."
    assert result.stop_reason == "end_turn"
    assert len(env.model.requests) == 2


def test_parse_arguments_reads_the_spec_it_is_given() -> None:
    available = {LOOKUP.name: LOOKUP}
    good = ToolCall("c1", "lookup_member", '{"name": "Ana"}')
    assert parse_arguments(good, available) == {"name": "Ana"}
    with pytest.raises(InvalidToolCall, match="not available to this agent now"):
        parse_arguments(ToolCall("c2", "send_message", "{}"), available)


# -- the model's task ---------------------------------------------------------------------


def test_the_turns_task_and_choices_reach_the_model(env: Env) -> None:
    agent_id = env.agent()
    env.model.queue(say("Ana"), say("plain"))

    env.turn(agent_id, "who next?", task="choose", choices=("Ana", "Ben"))
    env.turn(agent_id, "hi")

    chosen, plain = env.model.requests
    assert (chosen.task, chosen.choices) == ("choose", ("Ana", "Ben"))
    assert (plain.task, plain.choices) == ("respond", ())
    assert set(plain.metadata) == {"agent_id", "agent_name", "agent_type"}


def test_an_agent_turn_runs_task_reaches_the_model(env: Env) -> None:
    launcher = SynchronousLauncher()
    runs = RunService(env.store, env.clock, env.loop, launcher)
    launcher.bind(runs.execute)
    agent_id = env.agent()
    env.model.queue(say("Stored."), say("Answered."))

    runs.submit(TENANT, agent_id, {"kind": AGENT_TURN, "input": "note", "task": "remember"})
    runs.submit(TENANT, agent_id, {"kind": AGENT_TURN, "input": "question"})

    assert [r.task for r in env.model.requests] == ["remember", "respond"]


def _offline_request(task: Any, text: str, **fields: Any) -> ChatRequest:
    return ChatRequest(
        provider="offline",
        model="default",
        system=fields.pop("system", "You are a test."),
        messages=(ChatMessage(role="user", text=text),),
        task=task,
        metadata={"agent_name": "tester", "agent_type": "letta_v1_agent"},
        **fields,
    )


def test_the_offline_model_plays_each_task() -> None:
    model = OfflineModel()
    choice = model.complete(_offline_request("choose", "who?", choices=("Ana", "Ben")))
    assert choice.text in ("Ana", "Ben") and not choice.tool_calls
    summary = model.complete(_offline_request("summarize", "a long talk"))
    assert summary.text == "Summary: a long talk"
    memory = 'You are a test.\n<human chars_current="0" chars_limit="100">\n</human>'
    insert = ToolSpec("memory_insert", "Insert.", {"type": "object", "properties": {}})
    remembered = model.complete(
        _offline_request("remember", "Ada likes tea", system=memory, tools=(insert,))
    )
    assert [c.name for c in remembered.tool_calls] == ["memory_insert"]
    replied = model.complete(
        _offline_request("respond", "Ada likes tea", system=memory, tools=(insert,))
    )
    assert not replied.tool_calls and "Ada likes tea" in (replied.text or "")


# -- approvals ----------------------------------------------------------------------------


def _pause(env: Env) -> tuple[str, MessageRecord]:
    agent_id = env.agent(
        memory_blocks=[CreateBlock(label="human", value="Name: Ada.", limit=2000)],
        tool_rules=[{"type": "requires_approval", "tool_name": "memory_insert"}],
    )
    env.model.queue(call("memory_insert", {"label": "human", "new_str": "Likes tea."}, "c1"))
    paused = env.turn(agent_id, "I like tea")
    assert paused.stop_reason == "requires_approval"
    return agent_id, paused.messages[-1]


def _approve(env: Env, agent_id: str) -> list[MessageRecord]:
    approval = ApprovalCreate(approvals=[ApprovalDecision(tool_call_id="c1", approve=True)])
    return env.loop.approval_records(TENANT, env.saved_agent(agent_id), approval, TurnOptions())


def test_the_pending_request_is_read_by_key_and_cleared_with_the_decision(env: Env) -> None:
    agent_id, request = _pause(env)
    agent = env.saved_agent(agent_id)
    assert (agent.pending_approval_id, agent.pending_approval_seq) == (request.id, request.seq)

    records = _approve(env, agent_id)

    assert env.store.found_by_id == []
    assert [r.role for r in records] == ["approval", "tool"]
    assert records[1].tool_status == "success"
    env.model.queue(say("Saved."))
    env.loop.run(TENANT, agent_id, records, TurnOptions())
    agent = env.saved_agent(agent_id)
    assert (agent.pending_approval_id, agent.pending_approval_seq) == (None, None)


def test_a_pause_saved_before_the_seq_was_kept_is_found_by_id(env: Env) -> None:
    agent_id, request = _pause(env)
    old = env.saved_agent(agent_id).model_copy(update={"pending_approval_seq": None})
    env.store.write(TENANT, [Put(old.model_copy(update={"version": old.version + 1}), old.version)])

    records = _approve(env, agent_id)

    assert env.store.found_by_id == [request.id]
    assert records[1].tool_status == "success"


# -- commits ------------------------------------------------------------------------------


def test_a_long_run_of_inputs_is_saved_in_writes_the_store_allows(env: Env) -> None:
    env.store.limits = StoreLimits(
        max_changes_per_write=5, max_record_bytes=400_000, max_write_bytes=4_000_000
    )
    agent_id = env.agent()
    env.store.write_sizes.clear()
    env.model.queue(
        ChatResponse(text="Caught up.", reasoning=Reasoning(text="Many inputs."), usage=Usage())
    )
    inputs = [env.user(f"line {i}") for i in range(12)]

    result = env.loop.run(TENANT, agent_id, inputs, TurnOptions())

    assert env.store.write_sizes == [5, 5, 5, 2]  # 4 inputs + the agent, thrice; then the step
    assert [r.seq for r in result.messages] == list(range(1, 14))


def test_a_lent_tool_that_loses_the_group_stops_the_turn(env: Env) -> None:
    """Losing the group (or a write race) is not a tool failure the model could fix: it
    ends the turn instead of going back to the model as an error result."""
    agent_id = env.agent()

    def lost(_: dict[str, Any]) -> str:
        raise SendInterruptedError("Group group-x was taken over by another send.")

    env.model.queue(call("lookup_member", {"name": "ann"}, "call_1"), say("unreachable"))
    with pytest.raises(SendInterruptedError):
        env.turn(agent_id, extra_tools=(TurnTool(LOOKUP, lost),))
    assert len(env.model.requests) == 1


def test_a_memory_edit_too_large_to_store_goes_back_to_the_model(env: Env) -> None:
    big = env.store.limits.max_record_bytes // 2 - 2_000
    agent_id = env.agent(
        memory_blocks=[CreateBlock(label="notes", value="x" * big, limit=10 * big)],
        context_window_limit=10 * big,  # room for the big block: no compaction
    )
    edit = {"label": "notes", "new_str": "y" * 5_000}
    env.model.queue(call("memory_insert", edit, "call_1"), say("noted"))
    result = env.turn(agent_id)
    (tool,) = tool_records(result)
    assert tool.tool_status == "error" and "Edit not saved" in (tool.text or "")
    assert result.stop_reason == "end_turn"


def test_large_inputs_are_saved_in_writes_within_the_byte_limit(env: Env) -> None:
    env.store.limits = StoreLimits(
        max_changes_per_write=100, max_record_bytes=400_000, max_write_bytes=1_000_000
    )
    agent_id = env.agent()
    env.store.write_sizes.clear()
    env.model.queue(say("Read them all."))
    inputs = [env.user("x" * 300_000) for _ in range(7)]

    result = env.loop.run(TENANT, agent_id, inputs, TurnOptions())

    # Three 300 KB inputs and the agent fit 1 MB: 3 + 3 + 1 inputs, then the step.
    assert env.store.write_sizes == [4, 4, 2, 2]
    assert [r.seq for r in result.messages] == list(range(1, 9))
