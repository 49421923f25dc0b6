"""Running the tool calls of a step: check each against its spec, run it, record the result.

A tool is one of the agent's own built-in tools or a tool a caller lent for the turn
(TurnTool). Memory edits read the blocks fresh and commit with their versions, retrying a
lost race, so two agents sharing a block never overwrite each other. Any failure of a tool
goes back to the model as an error result; only a malformed call ends the step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from core.errors import ConflictError, PayloadTooLargeError
from core.llm import ToolCall, ToolSpec
from core.persistence.retry import patient
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store
from core.records import AgentRecord, BlockRecord, MessageRecord
from core.runtime.memory import ToolError
from core.runtime.message_factory import MessageFactory
from core.runtime.rules import RuleBook
from core.runtime.tool_arguments import InvalidToolCall, parse_arguments
from core.runtime.tools import MEMORY_EDITING_TOOLS, ToolContext, execute, tool_specs
from core.runtime.turn import (
    StepOutcome,
    StopReason,
    ToolResult,
    TurnOptions,
    replies_through_tool,
)

logger = logging.getLogger(__name__)

SEARCH_SCAN = 500
"""How many of the newest messages conversation_search looks through."""


class ToolExecutor:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def available(self, agent: AgentRecord, options: TurnOptions) -> dict[str, ToolSpec]:
        """Every tool the agent may call this turn, by name: its own, then the lent ones
        (a lent tool replaces an own tool of the same name)."""
        specs = {spec.name: spec for spec in tool_specs(agent.tool_names)}
        specs.update({tool.spec.name: tool.spec for tool in options.extra_tools})
        return specs

    def run_calls(
        self,
        tenant: str,
        agent: AgentRecord,
        step: MessageRecord,
        calls: Sequence[ToolCall],
        rules: RuleBook,
        options: TurnOptions,
        factory: MessageFactory,
    ) -> StepOutcome:
        """What the model's `step` leads to: its end when it called no tool, a pause when a
        call needs approval (none run then), else each call run in order, stopping at the
        first malformed one."""
        records = [step]
        if not calls:
            return StepOutcome(records, "end_turn")
        waiting = [c.id for c in calls if rules.requires_approval(c.name)]
        if waiting:
            step.approval_call_ids = waiting
            return StepOutcome(records, "requires_approval")
        available = self.available(agent, options)
        stop: StopReason | None = None
        for call in calls:
            try:
                arguments = parse_arguments(call, available)
            except InvalidToolCall as exc:
                error = ToolResult.error(str(exc))
                records.append(factory.tool(agent, call, error, step.step_id))
                return StepOutcome(records, "invalid_tool_call")
            result = self.run(tenant, agent, call.name, arguments, options)
            records.append(factory.tool(agent, call, result, step.step_id))
            rules.record_call(call.name)
            if rules.ends_turn(call.name, replies_through_tool(agent)):
                stop = "end_turn"
        return StepOutcome(records, stop)

    def check_and_run(
        self, tenant: str, agent: AgentRecord, call: ToolCall, options: TurnOptions
    ) -> ToolResult:
        """Run a call decided on later (an approved one): a malformed call is only an
        error result here, as the step that made it is long saved."""
        try:
            arguments = parse_arguments(call, self.available(agent, options))
        except InvalidToolCall as exc:
            return ToolResult.error(str(exc))
        return self.run(tenant, agent, call.name, arguments, options)

    def run(
        self,
        tenant: str,
        agent: AgentRecord,
        name: str,
        arguments: dict[str, Any],
        options: TurnOptions,
    ) -> ToolResult:
        """Run one checked call: a lent tool, a memory edit (committed), or another
        built-in tool (which changes no stored state)."""
        lent = options.lent(name)
        if lent is not None:
            return _guarded(name, lambda: lent.run(arguments))
        if name in MEMORY_EDITING_TOOLS:
            result = self._edit_memory(tenant, agent, name, arguments)
            if options.blocks is not None:
                options.blocks.forget()  # read again: the edit changed them
            return result
        context = ToolContext([], set(), self._searcher(tenant, agent))
        return _guarded(name, lambda: execute(name, arguments, context))

    def _edit_memory(
        self, tenant: str, agent: AgentRecord, name: str, arguments: dict[str, Any]
    ) -> ToolResult:
        """Edit the blocks as they are now and commit the ones touched; a lost race
        reruns the edit on the newer blocks."""

        def edit(_: int) -> ToolResult:
            uow = UnitOfWork(self._store, tenant, self._clock)
            current = uow.load(AgentRecord, agent.id)
            blocks = uow.load_existing(BlockRecord, current.block_ids)
            context = ToolContext(blocks, set(), self._searcher(tenant, agent))
            result = _guarded(name, lambda: execute(name, arguments, context))
            if result.status == "error":
                return result
            for block in blocks:
                if block.id in context.touched:
                    uow.touch(block)
            try:
                uow.commit()
            except PayloadTooLargeError as exc:
                return ToolResult.error(f"Edit not saved: {exc.detail}")
            return result

        return patient(edit, what=f"the memory of agent {agent.id}")

    def _searcher(self, tenant: str, agent: AgentRecord) -> Callable[[str, int], list[str]]:
        return lambda query, limit: self._search(tenant, agent.id, query, limit)

    def _search(self, tenant: str, agent_id: str, query: str, limit: int) -> list[str]:
        """The newest user and assistant messages containing `query` (any case)."""
        needle = query.lower()
        hits = []
        for record in self._store.children(
            tenant, MessageRecord, agent_id, limit=SEARCH_SCAN, newest_first=True
        ):
            if (
                record.role in ("user", "assistant")
                and record.text
                and needle in record.text.lower()
            ):
                hits.append(f"[{record.created_at.isoformat()}] {record.role}: {record.text}")
            if len(hits) >= limit:
                break
        return hits


def _guarded(name: str, work: Callable[[], str]) -> ToolResult:
    """A tool's result, or its failure as an error result for the model."""
    try:
        return ToolResult(work(), "success")
    except ToolError as exc:
        return ToolResult.error(str(exc))
    except ConflictError:
        raise  # lost the group or a write race: the send stops, the model cannot fix it
    except Exception as exc:  # noqa: BLE001 - a tool failure goes back to the model
        logger.exception("tool %s failed", name)
        return ToolResult.error(f"Tool {name!r} failed: {type(exc).__name__}.")
