"""Runs as the API shows them: the wire model, the status a stop reason gives, the filters
of the run listing."""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from core.filters import Equals, Filter, IsFalse, IsTrue, OneOf
from core.records import RunRecord
from core.schemas.runs import STOP_REASONS, Run

COMPLETED_STOP_REASONS = frozenset({"end_turn", "max_steps", "tool_rule", "requires_approval"})
"""Stop reasons of a run that finished its work; `cancelled` cancels it, the rest fail it
(as Letta maps stop reasons to run statuses)."""


@dataclass(frozen=True)
class RunFilter:
    """GET /v1/runs/ filters, as the store applies them."""

    agent_ids: tuple[str, ...] = ()
    group_id: str | None = None
    statuses: tuple[str, ...] = ()
    stop_reason: str | None = None
    background: bool | None = None

    def filters(self) -> tuple[Filter, ...]:
        found: builtins.list[Filter] = []
        if self.agent_ids:
            found.append(OneOf("agent_id", self.agent_ids))
        if self.group_id is not None:
            found.append(Equals("group_id", self.group_id))
        if self.statuses:
            found.append(OneOf("status", self.statuses))
        if self.stop_reason is not None:
            found.append(Equals("stop_reason", self.stop_reason))
        if self.background is not None:
            found.append(IsTrue("background") if self.background else IsFalse("background"))
        return tuple(found)


def status_for(stop_reason: str) -> str:
    if stop_reason in COMPLETED_STOP_REASONS:
        return "completed"
    if stop_reason == "cancelled":
        return "cancelled"
    if stop_reason in STOP_REASONS:
        return "failed"
    return "completed"


def run_to_wire(run: RunRecord) -> Run:
    duration = None
    if run.completed_at is not None:
        duration = int((run.completed_at - run.created_at).total_seconds() * 1_000_000_000)
    return Run(
        id=run.id,
        agent_id=run.agent_id,
        status=run.status,
        created_at=run.created_at,
        completed_at=run.completed_at,
        # A handler's own stop reason outside Letta's enum stays on the record only.
        stop_reason=run.stop_reason if run.stop_reason in STOP_REASONS else None,  # type: ignore[arg-type]
        background=run.background,
        metadata=run.metadata,
        total_duration_ns=duration,
        callback_url=run.callback_url,
        callback_sent_at=run.callback_sent_at,
        callback_status_code=run.callback_status_code,
        callback_error=run.callback_error,
    )
