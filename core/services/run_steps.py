"""A run's steps, as GET /v1/runs/{run_id}/steps lists them (Letta's `Step`).

A step is one model call of one agent: its assistant message (which keeps the model, the
tokens and, when the step ended the agent's turn, the stop reason: `StepFacts`) and the
tool results of its calls, all sharing a `step_id`. They are read from the run's messages
(core.services.run_messages) and grouped; steps are listed in the order they were taken.
"""

from __future__ import annotations

import builtins
from typing import Any, cast, get_args

from core.errors import NotFoundError
from core.paging import PageRequest, paginate
from core.ports import Store
from core.records import MessageRecord, RunRecord
from core.schemas.agents import StopReasonType
from core.schemas.content import (
    OmittedReasoningContent,
    ReasoningContent,
    RedactedReasoningContent,
    TextContent,
)
from core.schemas.steps import Step, StepMessage, ToolCallFunction, ToolCallOut, ToolReturnInfo
from core.services.run_messages import RunMessages

READ_CHUNK = 500
"""Messages read per store call while collecting a run's steps."""
STOP_REASONS = frozenset(get_args(StopReasonType))


class RunSteps:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._messages = RunMessages(store)

    def list(self, tenant: str, run_id: str, page: PageRequest) -> list[Step]:
        """One page of the run's steps; cursors are step ids."""
        run = self._store.get(tenant, RunRecord, run_id)
        if run is None:
            raise NotFoundError(f"Run not found: {run_id}")
        by_step: dict[str, list[MessageRecord]] = {}
        for record in self._all_messages(tenant, run):
            if record.step_id is not None:
                by_step.setdefault(record.step_id, []).append(record)
        steps = [_step(run, step_id, records) for step_id, records in by_step.items()]
        return paginate(steps, page, lambda step: step.id)

    def _all_messages(self, tenant: str, run: RunRecord) -> builtins.list[MessageRecord]:
        found: builtins.list[MessageRecord] = []
        after = -1
        while True:
            chunk = self._messages.after(tenant, run, after, READ_CHUNK)
            found.extend(chunk)
            if len(chunk) < READ_CHUNK:
                return found
            after = chunk[-1].seq


def _step(run: RunRecord, step_id: str, records: list[MessageRecord]) -> Step:
    made = next((r for r in records if r.role == "assistant"), records[0])
    facts = made.step
    provider, model = _provider_and_model(facts.model if facts else None)
    failed = any(r.role == "assistant" and r.is_err for r in records)
    reason = facts.stop_reason if facts else None
    return Step(
        id=step_id,
        job_id=run.id,
        agent_id=made.sender_id,
        provider_name=provider,
        model=model,
        prompt_tokens=facts.prompt_tokens if facts else None,
        completion_tokens=facts.completion_tokens if facts else None,
        total_tokens=facts.prompt_tokens + facts.completion_tokens if facts else None,
        stop_reason=cast(StopReasonType, reason) if reason in STOP_REASONS else None,
        messages=[_message(r, model) for r in records],
        status="failed" if failed else "success",
    )


def _provider_and_model(handle: str | None) -> tuple[str | None, str | None]:
    """`openai/gpt-4o-mini` → ("openai", "gpt-4o-mini"), as Letta's steps name them."""
    if not handle:
        return None, None
    provider, sep, model = handle.partition("/")
    return (provider, model) if sep else (None, handle)


def _message(record: MessageRecord, model: str | None) -> StepMessage:
    role = "system" if record.role == "summary" else record.role
    fields: dict[str, Any] = {
        "id": record.id,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "agent_id": record.sender_id,
        "role": role,
        "name": record.tool_name if record.role == "tool" else record.name,
        "tool_call_id": record.tool_call_id,
        "step_id": record.step_id,
        "otid": record.otid,
        "group_id": record.group_id,
        "sender_id": record.sender_id,
        "is_err": record.is_err,
    }
    if record.role == "assistant":
        fields["model"] = model
        fields["content"] = _assistant_content(record)
        if record.tool_calls:
            fields["tool_calls"] = [
                ToolCallOut(
                    id=call["id"],
                    function=ToolCallFunction(name=call["name"], arguments=call["arguments"]),
                )
                for call in record.tool_calls
            ]
    elif record.text is not None:
        fields["content"] = [TextContent(text=record.text)]
    if record.role == "tool":
        failed = record.tool_status == "error"
        fields["tool_returns"] = [ToolReturnInfo(status="error" if failed else "success")]
    return StepMessage(**fields)


def _assistant_content(
    record: MessageRecord,
) -> list[TextContent | ReasoningContent | RedactedReasoningContent | OmittedReasoningContent]:
    content: list[
        TextContent | ReasoningContent | RedactedReasoningContent | OmittedReasoningContent
    ] = []
    reasoning = record.reasoning or {}
    if reasoning.get("redacted_data"):
        content.append(RedactedReasoningContent(data=reasoning["redacted_data"]))
    elif reasoning.get("omitted"):
        content.append(OmittedReasoningContent(signature=reasoning.get("signature")))
    elif reasoning.get("text"):
        content.append(
            ReasoningContent(
                is_native=bool(reasoning.get("native")),
                reasoning=reasoning["text"],
                signature=reasoning.get("signature"),
            )
        )
    if record.text:
        content.append(TextContent(text=record.text))
    return content
