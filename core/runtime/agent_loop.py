"""The agent step loop: build the context, call the model, run tools, until the agent yields.

One turn = the steps an agent takes to answer what it was just given. This module only
sequences the parts, each of which does one job: `context` (what the model is shown),
`model_step` (the call), `tool_execution` (running the calls), `step_writer` (saving each
step atomically), `approvals` (answering a paused step) and `message_factory` (the records).
"""

from __future__ import annotations

import logging

from core import ids
from core.errors import NotFoundError
from core.llm import ChatResponse, ModelClient, ModelError, Usage
from core.observability import bind
from core.ports import NO_METRICS, Clock, Metrics, Store
from core.records import AgentRecord, MessageRecord, StepFacts
from core.runtime.approvals import Approvals
from core.runtime.context import ContextBuilder, keep_recent, system_prompt
from core.runtime.message_factory import MessageFactory
from core.runtime.model_step import ModelStep
from core.runtime.rules import RuleBook, turn_rules
from core.runtime.step_writer import Finishing, StepWriter
from core.runtime.tool_execution import ToolExecutor
from core.runtime.turn import StepOutcome, StopReason, TurnOptions, TurnResult, TurnTool
from core.runtime.usage import UsageTally
from core.schemas.messages import ApprovalCreate

logger = logging.getLogger(__name__)

__all__ = [
    "AgentLoop",
    "TurnOptions",
    "TurnResult",
    "TurnTool",
    "system_prompt",
]


class AgentLoop:
    def __init__(
        self, store: Store, clock: Clock, model: ModelClient, metrics: Metrics = NO_METRICS
    ) -> None:
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._context = ContextBuilder(store, clock, model)
        self._model_step = ModelStep(model, metrics)
        self._tools = ToolExecutor(store, clock)
        self._writer = StepWriter(store, clock)
        self._approvals = Approvals(store, clock, self._tools)

    def run(
        self,
        tenant: str,
        agent_id: str,
        inputs: list[MessageRecord],
        options: TurnOptions,
    ) -> TurnResult:
        """Take `inputs` (unsaved records) through the agent until it yields. Each step is
        saved on its own, so a failure mid-turn keeps every finished step. Its log lines
        carry the ids of the agent (and of its group and run)."""
        with bind(
            tenant=tenant, agent_id=agent_id, group_id=options.group_id, run_id=options.run_id
        ):
            result = self._run(tenant, agent_id, inputs, options)
            self._report(result)
        return result

    def _run(
        self,
        tenant: str,
        agent_id: str,
        inputs: list[MessageRecord],
        options: TurnOptions,
    ) -> TurnResult:
        known = (
            options.agent if options.agent is not None and options.agent.id == agent_id else None
        )
        agent = known or self._store.get(tenant, AgentRecord, agent_id)
        if agent is None:
            raise NotFoundError(f"Agent not found: {agent_id}")
        factory = MessageFactory(self._clock, options)
        tally = UsageTally(agent.id, agent.name)
        rules = RuleBook(turn_rules(agent.tool_rules or [], options.extra_tools))
        produced: list[MessageRecord] = list(options.given)
        given = list(options.given)
        history = _without(self._context.recent(tenant, agent, also=len(given)), given)
        pending = list(inputs)
        stop_reason: StopReason = "max_steps"
        for step_number in range(options.max_steps):
            if step_number and options.should_stop is not None and options.should_stop():
                stop_reason = "cancelled"
                break
            shown = [*given, *pending]
            context = self._context.prepare(tenant, agent, history, shown, tally, options.blocks)
            agent, history = context.agent, context.history
            if context.compacted:
                self._saved(context.compacted, produced, options)
            step_id, message_id = ids.new_id(ids.STEP), ids.new_id(ids.MESSAGE)
            response = self._model_step.call(
                agent, context.system, history + shown, rules, step_number, options, message_id
            )
            if isinstance(response, ModelError):
                error = factory.model_error(agent, step_id, response)
                outcome = StepOutcome([error], response.stop_reason)
            else:
                tally.add(response.usage)
                step = factory.assistant(agent, response, step_id, message_id)
                outcome = self._tools.run_calls(
                    tenant, agent, step, response.tool_calls, rules, options, factory
                )
            if outcome.stop_reason is None and step_number == options.max_steps - 1:
                outcome.stop_reason = "max_steps"
            _note_step(outcome, step_id, agent, response, options)
            finishing = None
            if outcome.stop_reason is not None and options.finish is not None:
                finishing = Finishing(options, list(produced), tally)
            committed, agent = self._writer.commit(tenant, agent, pending, outcome, finishing)
            self._saved(committed, produced, options)
            history, pending, given = keep_recent(history + given + committed), [], []
            if outcome.stop_reason is not None:
                stop_reason = outcome.stop_reason
                break
        return TurnResult(agent, produced, stop_reason, tally)

    def approval_records(
        self, tenant: str, agent: AgentRecord, approval: ApprovalCreate, options: TurnOptions
    ) -> list[MessageRecord]:
        """The records that answer a pending approval: the decision, then one tool result per
        call (run if approved, an error if denied, or the caller's own result)."""
        return self._approvals.records(tenant, agent, approval, options)

    def _report(self, result: TurnResult) -> None:
        """One line and the metrics of a finished turn: its stop reason and its tokens
        (the agent id is a property of the token metrics, not a dimension)."""
        usage = result.usage
        logger.info(
            "agent turn done",
            extra={
                "stop_reason": result.stop_reason,
                "steps": usage.step_count,
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
            },
        )
        self._metrics.count("StopReasons", reason=result.stop_reason)
        agent = {"agent_id": result.agent.id}
        self._metrics.count("PromptTokens", usage.prompt_tokens, properties=agent)
        self._metrics.count("CompletionTokens", usage.completion_tokens, properties=agent)

    @staticmethod
    def _saved(
        records: list[MessageRecord], produced: list[MessageRecord], options: TurnOptions
    ) -> None:
        produced.extend(records)
        if options.on_step is not None:
            options.on_step(records)


def _note_step(
    outcome: StepOutcome,
    step_id: str,
    agent: AgentRecord,
    response: ChatResponse | ModelError,
    options: TurnOptions,
) -> None:
    """Keep on the step's assistant message what the step used and how it ended."""
    usage = response.usage if isinstance(response, ChatResponse) else Usage()
    facts = StepFacts(
        model=options.override_model or agent.model,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        stop_reason=outcome.stop_reason,
    )
    for record in outcome.records:
        if record.role == "assistant" and record.step_id == step_id:
            record.step = facts
            return


def _without(history: list[MessageRecord], given: list[MessageRecord]) -> list[MessageRecord]:
    """The history read from the store, less what the caller gives as inputs."""
    if not given:
        return history
    ids_given = {r.id for r in given}
    return [r for r in history if r.id not in ids_given]
