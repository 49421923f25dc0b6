"""The agent runtime on in-memory fakes: steps, tools, memory, approvals, compaction,
rendering, provider failures and tool rules, asserting what the model was shown."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from core.errors import ConflictError
from core.llm import (
    ChatRequest,
    ChatResponse,
    ModelClient,
    ModelError,
    ModelRateLimitError,
    ModelResponseError,
    ModelServerError,
    Reasoning,
    ToolCall,
    Usage,
)
from core.paging import PageRequest
from core.records import AgentRecord, BlockRecord, MessageRecord
from core.runtime.agent_loop import AgentLoop
from core.runtime.rendering import RenderOptions
from core.schemas.agents import CreateAgentRequest
from core.schemas.blocks import CreateBlock
from core.schemas.messages import (
    ApprovalCreate,
    ApprovalDecision,
    LettaMessageBase,
    LettaRequest,
    LettaResponse,
)
from core.services.agent_messages import AgentMessageService
from core.services.agents import AgentService
from core.services.blocks import BlockService
from infra.providers.offline import OfflineModel
from tests.fakes import FakeClock, InMemoryStore, ScriptedModel

TENANT = "tenant-loop"
SYSTEM = "You are a terse test agent."


@dataclass
class Env:
    store: InMemoryStore
    clock: FakeClock
    model: ModelClient
    agents: AgentService
    messages: AgentMessageService

    def agent(self, **fields: Any) -> str:
        fields.setdefault("name", "tester")
        fields.setdefault("system", SYSTEM)
        return self.agents.create(TENANT, CreateAgentRequest(**fields)).id

    def send(self, agent_id: str, text: str = "hello", **options: Any) -> LettaResponse:
        request = LettaRequest(messages=[{"role": "user", "content": text}], **options)
        return self.messages.send(TENANT, agent_id, request)

    def send_request(self, agent_id: str, body: dict[str, Any]) -> LettaResponse:
        return self.messages.send(TENANT, agent_id, LettaRequest.model_validate(body))

    def listed(self, agent_id: str) -> list[LettaMessageBase]:
        return self.messages.list(TENANT, agent_id, PageRequest(limit=1000), RenderOptions())

    def block(self, agent_id: str, label: str) -> BlockRecord:
        agent = self.store.get(TENANT, AgentRecord, agent_id)
        assert agent is not None
        blocks = self.store.get_many(TENANT, BlockRecord, agent.block_ids).values()
        return next(b for b in blocks if b.label == label)

    def stored(self, agent_id: str) -> list[MessageRecord]:
        return self.store.children(TENANT, MessageRecord, agent_id, limit=1000)

    @property
    def requests(self) -> list[ChatRequest]:
        assert isinstance(self.model, ScriptedModel)
        return self.model.requests

    def script(self, *items: ChatResponse | ModelError) -> None:
        assert isinstance(self.model, ScriptedModel)
        self.model.queue(*items)


def make_env(model: ModelClient) -> Env:
    store, clock = InMemoryStore(), FakeClock()
    loop = AgentLoop(store, clock, model)
    return Env(
        store,
        clock,
        model,
        AgentService(store, clock, "offline/default"),
        AgentMessageService(store, clock, loop),
    )


@pytest.fixture
def env() -> Env:
    return make_env(ScriptedModel())


def say(text: str, reasoning: str | None = None, usage: Usage | None = None) -> ChatResponse:
    return ChatResponse(
        text=text,
        reasoning=Reasoning(text=reasoning) if reasoning else None,
        usage=usage or Usage(prompt_tokens=10, completion_tokens=2),
    )


def call(
    name: str,
    arguments: dict[str, Any] | str,
    call_id: str,
    reasoning: str | None = None,
    usage: Usage | None = None,
) -> ChatResponse:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ChatResponse(
        text=None,
        tool_calls=(ToolCall(call_id, name, args),),
        reasoning=Reasoning(text=reasoning) if reasoning else None,
        usage=usage or Usage(prompt_tokens=10, completion_tokens=2),
        finish_reason="tool_calls",
    )


def types(messages: list[Any]) -> list[str]:
    return [m.message_type for m in messages]


def human_block(value: str = "Name: Ada.", limit: int = 2000) -> CreateBlock:
    return CreateBlock(label="human", value=value, limit=limit)


# -- one step -----------------------------------------------------------------------------


def test_plain_reply_is_reasoning_then_assistant_with_the_models_usage(env: Env) -> None:
    agent_id = env.agent(name="solo")
    env.script(
        ChatResponse(
            text="Hello, Ada.",
            reasoning=Reasoning(text="The user greets me.", native=True),
            usage=Usage(
                prompt_tokens=120, completion_tokens=30, cached_input_tokens=5, reasoning_tokens=7
            ),
        )
    )

    response = env.send(agent_id, "hi there")

    assert types(response.messages) == ["reasoning_message", "assistant_message"]
    reasoning, assistant = response.messages
    assert reasoning.reasoning == "The user greets me."  # type: ignore[attr-defined]
    assert reasoning.source == "reasoner_model"  # type: ignore[attr-defined]
    assert assistant.content == "Hello, Ada."  # type: ignore[attr-defined]
    assert {(m.name, m.sender_id) for m in response.messages} == {("solo", agent_id)}
    assert response.stop_reason.stop_reason == "end_turn"
    usage = response.usage
    assert (usage.step_count, usage.prompt_tokens, usage.completion_tokens) == (1, 120, 30)
    assert usage.total_tokens == 150
    assert (usage.cached_input_tokens, usage.reasoning_tokens) == (5, 7)
    assert usage.by_agent is not None and len(usage.by_agent) == 1
    share = usage.by_agent[0]
    assert share.agent_id == agent_id and share.name == "solo"
    assert (share.step_count, share.prompt_tokens, share.completion_tokens, share.total_tokens) == (
        usage.step_count,
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.total_tokens,
    )
    (request,) = env.requests
    assert request.system.startswith(SYSTEM)
    assert [(m.role, m.text) for m in request.messages] == [("user", "hi there")]
    assert request.tool_choice == "auto"
    assert request.metadata["agent_id"] == agent_id


def test_plain_reply_without_reasoning_is_one_assistant_message(env: Env) -> None:
    agent_id = env.agent()
    env.script(say("Just this."))

    response = env.send(agent_id)

    assert types(response.messages) == ["assistant_message"]


# -- multi-step tool chains ---------------------------------------------------------------


def test_tool_chain_runs_each_tool_and_feeds_its_result_back(env: Env) -> None:
    agent_id = env.agent(memory_blocks=[human_block()])
    env.script(
        call("memory_insert", {"label": "human", "new_str": "Drinks oolong."}, "c1"),
        call("conversation_search", {"query": "oolong"}, "c2"),
        say("Noted: oolong."),
    )

    response = env.send(agent_id, "I drink oolong every morning")

    assert types(response.messages) == [
        "tool_call_message",
        "tool_return_message",
        "tool_call_message",
        "tool_return_message",
        "assistant_message",
    ]
    first_call, first_return, second_call, second_return, answer = response.messages
    assert first_call.tool_call.name == "memory_insert"  # type: ignore[attr-defined]
    assert second_call.tool_call.name == "conversation_search"  # type: ignore[attr-defined]
    assert [first_return.tool_call_id, second_return.tool_call_id] == ["c1", "c2"]  # type: ignore[attr-defined]
    assert [first_return.status, second_return.status] == ["success", "success"]  # type: ignore[attr-defined]
    assert "I drink oolong every morning" in second_return.tool_return  # type: ignore[attr-defined]
    assert answer.content == "Noted: oolong."  # type: ignore[attr-defined]
    assert response.stop_reason.stop_reason == "end_turn"
    assert response.usage.step_count == 3
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (30, 6)
    assert env.block(agent_id, "human").value == "Name: Ada.\nDrinks oolong."

    second, third = env.requests[1], env.requests[2]
    assert [m.role for m in second.messages] == ["user", "assistant", "tool"]
    assert second.messages[-1].tool_call_id == "c1" and not second.messages[-1].is_error
    assert [m.role for m in third.messages] == ["user", "assistant", "tool", "assistant", "tool"]
    assert third.messages[-1].tool_call_id == "c2"


def test_max_steps_stops_a_model_that_keeps_calling_tools(env: Env) -> None:
    agent_id = env.agent()
    env.script(*(call("conversation_search", {"query": "x"}, f"c{i}") for i in range(5)))

    response = env.send(agent_id, max_steps=2)

    assert response.stop_reason.stop_reason == "max_steps"
    assert len(env.requests) == 2
    assert response.usage.step_count == 2
    assert types(response.messages) == ["tool_call_message", "tool_return_message"] * 2


def test_max_steps_is_recorded_as_the_agents_last_stop_reason(env: Env) -> None:
    agent_id = env.agent()
    env.script(say("first turn ends normally"))
    env.send(agent_id)
    env.script(*(call("conversation_search", {"query": "x"}, f"c{i}") for i in range(2)))

    env.send(agent_id, max_steps=2)

    agent = env.store.get(TENANT, AgentRecord, agent_id)
    assert agent is not None
    assert agent.echoed.get("last_stop_reason") == "max_steps"


# -- memory -------------------------------------------------------------------------------


def test_memory_edit_is_visible_on_the_next_step_and_to_agents_sharing_the_block(
    env: Env,
) -> None:
    block = BlockService(env.store, env.clock).create(
        TENANT, CreateBlock(label="project", value="Codename: none.")
    )
    alpha = env.agent(name="alpha", block_ids=[block.id])
    beta = env.agent(name="beta", block_ids=[block.id])
    env.script(
        call(
            "memory_replace", {"label": "project", "old_str": "none", "new_str": "Bluebird"}, "c1"
        ),
        say("Saved."),
        say("It is Bluebird."),
    )

    env.send(alpha, "The codename is Bluebird.")
    env.send(beta, "What is the codename?")

    first, second, third = env.requests
    assert "Codename: none." in first.system
    assert "Codename: Bluebird." in second.system and "Codename: none." not in second.system
    assert third.metadata["agent_id"] == beta
    assert "Codename: Bluebird." in third.system


def test_over_limit_and_read_only_edits_are_errors_the_model_sees(env: Env) -> None:
    agent_id = env.agent(
        memory_blocks=[
            CreateBlock(label="notes", value="short", limit=30),
            CreateBlock(label="persona", value="I am fixed.", read_only=True),
        ]
    )
    notes_before = env.block(agent_id, "notes")
    persona_before = env.block(agent_id, "persona")
    env.script(
        call("memory_insert", {"label": "notes", "new_str": "x" * 40}, "c1"),
        call("memory_rethink", {"label": "persona", "new_memory": "I am new."}, "c2"),
        say("I could not save that."),
    )

    response = env.send(agent_id, "remember a lot")

    returns = [m for m in response.messages if m.message_type == "tool_return_message"]
    assert [r.status for r in returns] == ["error", "error"]  # type: ignore[attr-defined]
    assert all(r.is_err for r in returns)
    assert "limit of 30" in returns[0].tool_return  # type: ignore[attr-defined]
    assert "read-only" in returns[1].tool_return  # type: ignore[attr-defined]
    second, third = env.requests[1], env.requests[2]
    assert second.messages[-1].role == "tool" and second.messages[-1].is_error
    assert second.messages[-1].tool_call_id == "c1"
    assert "limit of 30" in (second.messages[-1].text or "")
    assert third.messages[-1].is_error and "read-only" in (third.messages[-1].text or "")
    assert response.stop_reason.stop_reason == "end_turn"
    assert response.messages[-1].content == "I could not save that."  # type: ignore[attr-defined]
    notes_after, persona_after = env.block(agent_id, "notes"), env.block(agent_id, "persona")
    assert (notes_after.value, notes_after.version) == ("short", notes_before.version)
    assert (persona_after.value, persona_after.version) == ("I am fixed.", persona_before.version)


# -- approvals ----------------------------------------------------------------------------

APPROVAL_RULE = [{"type": "requires_approval", "tool_name": "memory_insert"}]


def _pause_for_approval(env: Env) -> tuple[str, LettaResponse]:
    agent_id = env.agent(memory_blocks=[human_block()], tool_rules=APPROVAL_RULE)
    env.script(
        call(
            "memory_insert",
            {"label": "human", "new_str": "Likes tea."},
            "call-1",
            reasoning="I should save this.",
        )
    )
    return agent_id, env.send(agent_id, "I like tea")


def test_tool_needing_approval_pauses_the_agent_and_blocks_new_messages(env: Env) -> None:
    agent_id, response = _pause_for_approval(env)

    assert types(response.messages) == ["reasoning_message", "approval_request_message"]
    assert response.messages[-1].tool_call.tool_call_id == "call-1"  # type: ignore[attr-defined]
    assert response.stop_reason.stop_reason == "requires_approval"
    assert env.block(agent_id, "human").value == "Name: Ada."
    with pytest.raises(ConflictError):
        env.send(agent_id, "are you there?")
    assert len(env.requests) == 1


def test_approving_runs_the_tool_and_continues_the_turn(env: Env) -> None:
    agent_id, _ = _pause_for_approval(env)
    env.script(say("Saved that you like tea."))

    response = env.messages.send(
        TENANT,
        agent_id,
        LettaRequest(
            messages=[
                ApprovalCreate(approvals=[ApprovalDecision(tool_call_id="call-1", approve=True)])
            ]
        ),
    )

    assert types(response.messages) == [
        "approval_response_message",
        "tool_return_message",
        "assistant_message",
    ]
    tool_return = response.messages[1]
    assert tool_return.status == "success" and tool_return.tool_call_id == "call-1"  # type: ignore[attr-defined]
    assert response.stop_reason.stop_reason == "end_turn"
    assert env.block(agent_id, "human").value == "Name: Ada.\nLikes tea."
    resumed = env.requests[1]
    assert [m.role for m in resumed.messages] == ["user", "assistant", "tool"]
    assert resumed.messages[-1].tool_call_id == "call-1" and not resumed.messages[-1].is_error
    # The agent is no longer paused.
    env.script(say("Hi again."))
    assert env.send(agent_id, "hi").stop_reason.stop_reason == "end_turn"


def test_legacy_approve_flag_with_request_id_is_accepted(env: Env) -> None:
    agent_id, paused = _pause_for_approval(env)
    env.script(say("Done."))

    response = env.send_request(
        agent_id,
        {"messages": [{"approve": True, "approval_request_id": paused.messages[-1].id}]},
    )

    assert types(response.messages)[:2] == ["approval_response_message", "tool_return_message"]
    assert response.messages[1].status == "success"  # type: ignore[attr-defined]
    assert env.block(agent_id, "human").value == "Name: Ada.\nLikes tea."


def test_denying_gives_an_error_tool_return_and_leaves_memory_alone(env: Env) -> None:
    agent_id, _ = _pause_for_approval(env)
    env.script(say("Understood, I will not save it."))

    response = env.send_request(
        agent_id,
        {
            "messages": [
                {
                    "type": "approval",
                    "approvals": [
                        {
                            "type": "approval",
                            "tool_call_id": "call-1",
                            "approve": False,
                            "reason": "private",
                        }
                    ],
                }
            ]
        },
    )

    tool_return = next(m for m in response.messages if m.message_type == "tool_return_message")
    assert tool_return.status == "error"  # type: ignore[attr-defined]
    assert "denied" in tool_return.tool_return and "private" in tool_return.tool_return  # type: ignore[attr-defined]
    assert env.block(agent_id, "human").value == "Name: Ada."
    assert env.requests[1].messages[-1].is_error
    assert response.stop_reason.stop_reason == "end_turn"


def test_approval_of_one_call_does_not_rerun_a_sibling_call_that_already_ran(env: Env) -> None:
    """A step with two calls, only the second needing approval: the first runs at once, and
    approving the second must not run the first a second time."""
    agent_id = env.agent(
        memory_blocks=[human_block()],
        tool_rules=[{"type": "requires_approval", "tool_name": "conversation_search"}],
    )
    env.script(
        ChatResponse(
            text=None,
            tool_calls=(
                ToolCall("c1", "memory_insert", json.dumps({"label": "human", "new_str": "Tea."})),
                ToolCall("c2", "conversation_search", json.dumps({"query": "tea"})),
            ),
        ),
        say("Done."),
    )
    env.send(agent_id, "I like tea")

    env.send_request(
        agent_id, {"messages": [{"type": "approval", "approve": True, "approval_request_id": None}]}
    )

    assert env.block(agent_id, "human").value == "Name: Ada.\nTea."
    results = [r.tool_call_id for r in env.stored(agent_id) if r.role == "tool"]
    assert sorted(results) == ["c1", "c2"]


# -- compaction ---------------------------------------------------------------------------


@pytest.mark.parametrize("include_compaction_messages", [True, False])
def test_overflowing_window_is_summarised_into_the_system_prompt(
    env: Env, include_compaction_messages: bool
) -> None:
    agent_id = env.agent(context_window_limit=600, include_base_tools=False)
    env.script(say("ok1"), say("ok2"))
    env.send(agent_id, "A" * 500)
    env.send(agent_id, "B" * 500)
    summary = "SUMMARY: the user sent a wall of As."
    env.script(
        say(summary, usage=Usage(prompt_tokens=50, completion_tokens=9)),
        say("ok3", usage=Usage(prompt_tokens=40, completion_tokens=1)),
    )

    response = env.send(
        agent_id, "C" * 800, include_compaction_messages=include_compaction_messages
    )

    summariser, step = env.requests[2], env.requests[3]
    assert summariser.task == "summarize"
    assert "A" * 100 in (summariser.messages[0].text or "")
    assert summary in step.system and summary not in env.requests[1].system
    assert [m.text for m in step.messages] == ["B" * 500, "ok2", "C" * 800]
    assert len(step.messages) < len(env.requests[1].messages) + 2
    stored_summaries = [r for r in env.stored(agent_id) if r.role == "summary"]
    assert [r.text for r in stored_summaries] == [summary]
    agent = env.store.get(TENANT, AgentRecord, agent_id)
    assert agent is not None and agent.summary == summary
    expected = ["summary_message", "event_message"] if include_compaction_messages else []
    assert types(response.messages) == [*expected, "assistant_message"]
    if include_compaction_messages:
        assert response.messages[0].summary == summary  # type: ignore[attr-defined]
    assert response.usage.step_count == 1
    assert response.usage.total_tokens == 50 + 9 + 40 + 1

    env.script(say("ok4"))
    env.send(agent_id, "D")
    later = env.requests[4]
    assert summary in later.system
    assert [m.text for m in later.messages] == ["B" * 500, "ok2", "C" * 800, "ok3", "D"]


def test_the_new_input_counts_towards_the_window_when_deciding_to_compact(env: Env) -> None:
    """History alone fits, but history plus the incoming message does not: the request the
    model would get overflows, so the oldest part must be summarised first."""
    agent_id = env.agent(context_window_limit=300, include_base_tools=False)
    env.script(say("ok1"))
    env.send(agent_id, "A" * 500)
    env.script(say("SUMMARY: As."), say("ok2"))

    env.send(agent_id, "B" * 500)

    assert env.requests[1].task == "summarize"
    assert "SUMMARY: As." in env.requests[2].system


# -- rendering ----------------------------------------------------------------------------


def _v2_agent_says(env: Env, text: str) -> str:
    agent_id = env.agent(agent_type="memgpt_v2_agent")
    env.script(call("send_message", {"message": text}, "c1", reasoning="Greet back."))
    return agent_id


def test_send_message_renders_as_assistant_message_by_default(env: Env) -> None:
    agent_id = _v2_agent_says(env, "Hi from v2")

    response = env.send(agent_id)

    assert types(response.messages) == ["reasoning_message", "assistant_message"]
    assert response.messages[1].content == "Hi from v2"  # type: ignore[attr-defined]
    assert response.stop_reason.stop_reason == "end_turn"
    assert len(env.requests) == 1


def test_send_message_renders_as_tool_call_and_return_without_assistant_messages(
    env: Env,
) -> None:
    agent_id = _v2_agent_says(env, "Hi from v2")

    response = env.send(agent_id, use_assistant_message=False)

    assert types(response.messages) == [
        "reasoning_message",
        "tool_call_message",
        "tool_return_message",
    ]
    tool_call = response.messages[1].tool_call  # type: ignore[attr-defined]
    assert tool_call.name == "send_message"
    assert json.loads(tool_call.arguments) == {"message": "Hi from v2"}
    assert response.messages[2].status == "success"  # type: ignore[attr-defined]


def test_custom_assistant_message_tool_name_and_kwarg_are_honoured(env: Env) -> None:
    agent_id = env.agent(agent_type="memgpt_v2_agent")
    env.script(
        call("conversation_search", {"query": "Looking that up."}, "c1"),
        call("send_message", {"message": "Found it."}, "c2"),
    )

    response = env.send(
        agent_id,
        assistant_message_tool_name="conversation_search",
        assistant_message_tool_kwarg="query",
    )

    assert types(response.messages) == [
        "assistant_message",
        "tool_call_message",
        "tool_return_message",
    ]
    assert response.messages[0].content == "Looking that up."  # type: ignore[attr-defined]
    assert response.messages[1].tool_call.name == "send_message"  # type: ignore[attr-defined]


def test_include_return_message_types_filters_the_response(env: Env) -> None:
    agent_id = _v2_agent_says(env, "Only me")

    response = env.send(
        agent_id, use_assistant_message=False, include_return_message_types=["tool_return_message"]
    )

    assert types(response.messages) == ["tool_return_message"]
    assert response.stop_reason.stop_reason == "end_turn"


# -- provider failures --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "stop_reason"),
    [
        (ModelRateLimitError("slow down", 429), "llm_api_error"),
        (ModelServerError("upstream broke", 500), "llm_api_error"),
        (ModelResponseError("not a chat completion"), "invalid_llm_response"),
    ],
)
def test_provider_failure_ends_with_its_stop_reason_and_keeps_the_input(
    env: Env, error: ModelError, stop_reason: str
) -> None:
    agent_id = env.agent()
    env.script(error)

    response = env.send(agent_id, "are you up?")

    assert response.stop_reason.stop_reason == stop_reason
    assert len(response.messages) == 1 and response.messages[0].is_err
    listed = env.listed(agent_id)
    assert types(listed)[0] == "user_message"
    assert listed[0].content == "are you up?"  # type: ignore[attr-defined]
    assert [m.id for m in listed[1:]] == [response.messages[0].id]


def test_failure_mid_turn_returns_and_keeps_the_steps_already_done(env: Env) -> None:
    agent_id = env.agent()
    env.script(call("conversation_search", {"query": "x"}, "c1"), ModelServerError("down", 503))

    response = env.send(agent_id, "search then fail")

    assert response.stop_reason.stop_reason == "llm_api_error"
    assert types(response.messages) == [
        "tool_call_message",
        "tool_return_message",
        "assistant_message",
    ]
    assert response.messages[-1].is_err
    assert types(env.listed(agent_id)) == ["user_message", *types(response.messages)]


@pytest.mark.parametrize(
    ("name", "arguments", "says"),
    [
        ("launch_rockets", "{}", "launch_rockets"),
        ("conversation_search", '{"query": "unterminated', "not valid JSON"),
    ],
)
def test_bad_tool_call_ends_with_invalid_tool_call_and_an_error_return(
    env: Env, name: str, arguments: str, says: str
) -> None:
    agent_id = env.agent()
    env.script(call(name, arguments, "bad-1"), say("never reached"))

    response = env.send(agent_id, "do something")

    assert response.stop_reason.stop_reason == "invalid_tool_call"
    assert types(response.messages) == ["tool_call_message", "tool_return_message"]
    tool_return = response.messages[1]
    assert tool_return.status == "error" and tool_return.is_err  # type: ignore[attr-defined]
    assert tool_return.tool_call_id == "bad-1"  # type: ignore[attr-defined]
    assert says in tool_return.tool_return  # type: ignore[attr-defined]
    assert len(env.requests) == 1
    listed = env.listed(agent_id)
    assert types(listed)[0] == "user_message" and listed[0].content == "do something"  # type: ignore[attr-defined]


# -- the offline model --------------------------------------------------------------------


def test_offline_model_gives_identical_agents_the_same_reply() -> None:
    env = make_env(OfflineModel())
    first = env.agent(name="twin", memory_blocks=[human_block()])
    second = env.agent(name="twin", memory_blocks=[human_block()])

    replies = [env.send(a, "What is the capital of France?") for a in (first, second)]

    texts = [[(m.message_type, getattr(m, "content", None)) for m in r.messages] for r in replies]
    assert texts[0] == texts[1]
    assistant = [m for m in replies[0].messages if m.message_type == "assistant_message"]
    assert len(assistant) == 1 and "What is the capital of France?" in assistant[0].content  # type: ignore[attr-defined]
    assert all(r.stop_reason.stop_reason == "end_turn" for r in replies)


# -- tool rules ---------------------------------------------------------------------------


def test_run_first_forces_the_init_tool_on_the_first_step_only(env: Env) -> None:
    agent_id = env.agent(tool_rules=[{"type": "run_first", "tool_name": "conversation_search"}])
    env.script(call("conversation_search", {"query": "earlier"}, "c1"), say("Checked."))

    response = env.send(agent_id)

    first, second = env.requests
    assert first.tool_choice == "required"
    assert [t.name for t in first.tools] == ["conversation_search"]
    assert second.tool_choice == "auto"
    assert {t.name for t in second.tools} == {
        "memory_insert",
        "memory_replace",
        "memory_rethink",
        "conversation_search",
    }
    assert response.stop_reason.stop_reason == "end_turn"


def test_exit_loop_tool_ends_the_turn_after_it_runs(env: Env) -> None:
    agent_id = env.agent(
        memory_blocks=[human_block()],
        tool_rules=[{"type": "exit_loop", "tool_name": "memory_insert"}],
    )
    env.script(
        call("memory_insert", {"label": "human", "new_str": "Bye."}, "c1"), say("never reached")
    )

    response = env.send(agent_id)

    assert len(env.requests) == 1
    assert response.stop_reason.stop_reason == "end_turn"
    assert types(response.messages) == ["tool_call_message", "tool_return_message"]
    assert response.messages[1].status == "success"  # type: ignore[attr-defined]
    assert env.block(agent_id, "human").value == "Name: Ada.\nBye."
