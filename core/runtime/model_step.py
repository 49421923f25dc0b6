"""One model call of a step: the request the agent's state and rules make, and its answer.

A failed call is returned, not raised: the loop records it as the step's outcome, keeping
every step finished before it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from core.llm import (
    ChatRequest,
    ChatResponse,
    ModelClient,
    ModelError,
    OnDelta,
    ToolSpec,
    complete_with_deltas,
)
from core.model_handles import parse_handle
from core.ports import NO_METRICS, Metrics
from core.records import AgentRecord, MessageRecord
from core.runtime import conversation
from core.runtime.rules import RuleBook
from core.runtime.tools import tool_specs
from core.runtime.turn import TurnOptions, replies_through_tool

THINKING_ARGUMENT_AGENT_TYPES = frozenset({"memgpt_agent", "memgpt_v2_agent"})
"""Legacy agent types that think aloud in a `thinking` argument of every tool call, as in
Letta (its `put_inner_thoughts_in_kwargs`)."""


def offered_tools(
    agent: AgentRecord, rules: RuleBook, step_number: int, options: TurnOptions
) -> list[ToolSpec]:
    """The agent's tools and the tools lent for the turn (a lent tool replaces an own tool
    of the same name), as far as the rules allow them now: rules govern lent tools too."""
    lent = {t.spec.name: t.spec for t in options.extra_tools}
    own = [n for n in agent.tool_names if n not in lent]
    allowed = set(rules.allowed_tools([*own, *lent], step_number))
    own_specs = tool_specs([n for n in own if n in allowed])
    return [*own_specs, *(spec for name, spec in lent.items() if name in allowed)]


def build_request(
    agent: AgentRecord,
    system: str,
    records: Sequence[MessageRecord],
    tools: Sequence[ToolSpec],
    must_call_tool: bool,
    options: TurnOptions,
) -> ChatRequest:
    """The model request of one step. A step that must call a tool and has one left names
    it (Letta forces the only valid tool), so a model cannot pick another."""
    provider, model = parse_handle(options.override_model or agent.model)
    forced = tools[0].name if must_call_tool and len(tools) == 1 else None
    return ChatRequest(
        provider=provider,
        model=model,
        system=system,
        messages=tuple(conversation.to_chat(list(records))),
        tools=tuple(tools),
        tool_choice="required" if must_call_tool and tools else "auto",
        forced_tool=forced,
        thinking_argument=agent.agent_type in THINKING_ARGUMENT_AGENT_TYPES,
        enable_thinking=options.enable_thinking,
        max_tokens=agent.llm_config.get("max_tokens"),
        temperature=agent.llm_config.get("temperature"),
        task=options.task,
        choices=options.choices,
        metadata={"agent_id": agent.id, "agent_name": agent.name, "agent_type": agent.agent_type},
    )


class ModelStep:
    def __init__(self, model: ModelClient, metrics: Metrics = NO_METRICS) -> None:
        self._model = model
        self._metrics = metrics

    def call(
        self,
        agent: AgentRecord,
        system: str,
        records: Sequence[MessageRecord],
        rules: RuleBook,
        step_number: int,
        options: TurnOptions,
        message_id: str,
    ) -> ChatResponse | ModelError:
        """Ask the model for the step; pieces of the answer go to `options.on_delta` under
        `message_id` while it is produced."""
        request = build_request(
            agent,
            system,
            records,
            offered_tools(agent, rules, step_number, options),
            rules.must_call_tool(step_number),
            options,
        )
        started = time.perf_counter()
        outcome = "ok"
        try:
            return complete_with_deltas(self._model, request, _deltas(agent, options, message_id))
        except ModelError as error:
            outcome = "error"
            return error
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            self._metrics.timing(
                "ModelLatency", elapsed_ms, provider=request.provider, outcome=outcome
            )


def _deltas(agent: AgentRecord, options: TurnOptions, message_id: str) -> OnDelta | None:
    listener = options.on_delta
    if listener is None:
        return None
    thinks_in_text = replies_through_tool(agent)

    def on_delta(kind: str, text: str) -> None:
        # Text of an agent that replies through send_message is its inner thought.
        listener(message_id, "reasoning" if thinks_in_text and kind == "text" else kind, text)

    return on_delta
