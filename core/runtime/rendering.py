"""Stored messages to the typed Letta messages responses and listings are made of."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from pydantic import TypeAdapter

from core.paging import PageRequest
from core.records import MessageRecord
from core.runtime.tool_arguments import tool_call_arguments
from core.schemas.content import UserContentPart
from core.schemas.messages import (
    Approval,
    ApprovalRequestMessage,
    ApprovalResponseMessage,
    AssistantMessage,
    EventMessage,
    HiddenReasoningMessage,
    LettaMessage,
    ReasoningMessage,
    SummaryMessage,
    SystemMessage,
    ToolCallMessage,
    ToolCallWire,
    ToolReturnMessage,
    UserMessage,
)

# Stored content parts and approvals are JSON dicts; these validate them into the typed
# parts the messages hold, exactly as the message models would.
_USER_CONTENT = TypeAdapter(list[UserContentPart])
_APPROVALS = TypeAdapter(list[Approval])


@dataclass(frozen=True)
class RenderOptions:
    use_assistant_message: bool = True
    assistant_message_tool_name: str = "send_message"
    assistant_message_tool_kwarg: str = "message"
    include_return_message_types: tuple[str, ...] | None = None
    include_compaction_messages: bool = True


class _Common(TypedDict):
    """The fields every message rendered from one stored message shares."""

    id: str
    date: datetime
    name: str | None
    otid: str | None
    sender_id: str | None
    step_id: str | None
    is_err: bool | None
    seq_id: int | None
    run_id: str | None


def render(records: Sequence[MessageRecord], options: RenderOptions) -> list[LettaMessage]:
    messages = [m for record in records for m in render_one(record, options)]
    wanted = options.include_return_message_types
    if wanted is not None:
        messages = [m for m in messages if m.message_type in wanted]
    return messages


def render_page(
    records: Sequence[MessageRecord], page: PageRequest, options: RenderOptions
) -> list[LettaMessage]:
    """A listing page: newest-first pages are reversed message by message, so the parts of
    one stored message (reasoning, then reply) also come newest first."""
    if page.order == "asc":
        return render(records, options)
    return list(reversed(render(list(reversed(records)), options)))


def render_one(record: MessageRecord, options: RenderOptions) -> list[LettaMessage]:
    common: _Common = {
        "id": record.id,
        "date": record.created_at,
        "name": record.name,
        "otid": record.otid,
        "sender_id": record.sender_id,
        "step_id": record.step_id,
        "is_err": record.is_err,
        "seq_id": record.seq,
        "run_id": record.run_id,
    }
    if record.role == "user":
        content = record.content or record.text or ""
        if isinstance(content, list):
            return [UserMessage(**common, content=_USER_CONTENT.validate_python(content))]
        return [UserMessage(**common, content=content)]
    if record.role == "system":
        return [SystemMessage(**common, content=record.text or "")]
    if record.role == "tool":
        if (
            options.use_assistant_message
            and record.tool_name == options.assistant_message_tool_name
        ):
            return []
        return [
            ToolReturnMessage(
                **common,
                tool_return=record.text or "",
                status="error" if record.tool_status == "error" else "success",
                tool_call_id=record.tool_call_id or "",
            )
        ]
    if record.role == "approval":
        approvals = record.approvals
        return [
            ApprovalResponseMessage(
                **common,
                approvals=None if approvals is None else _APPROVALS.validate_python(approvals),
            )
        ]
    if record.role == "summary":
        if not options.include_compaction_messages:
            return []
        return [
            SummaryMessage(**common, summary=record.text or ""),
            EventMessage(**common, event_data={"summary_message_id": record.id}),
        ]
    return _render_assistant(record, common, options)


def _render_assistant(
    record: MessageRecord, common: _Common, options: RenderOptions
) -> list[LettaMessage]:
    out: list[LettaMessage] = []
    reasoning = record.reasoning or {}
    if reasoning.get("redacted_data") or reasoning.get("omitted"):
        out.append(
            HiddenReasoningMessage(
                **common,
                state="redacted" if reasoning.get("redacted_data") else "omitted",
                hidden_reasoning=reasoning.get("redacted_data"),
            )
        )
    elif reasoning.get("text"):
        out.append(
            ReasoningMessage(
                **common,
                reasoning=reasoning["text"],
                source="reasoner_model" if reasoning.get("native") else "non_reasoner_model",
                signature=reasoning.get("signature"),
            )
        )
    if record.text:
        out.append(AssistantMessage(**common, content=record.text))
    for call in record.tool_calls:
        wire = ToolCallWire(name=call["name"], arguments=call["arguments"], tool_call_id=call["id"])
        if call["id"] in record.approval_call_ids:
            out.append(ApprovalRequestMessage(**common, tool_call=wire, tool_calls=[wire]))
        elif options.use_assistant_message and call["name"] == options.assistant_message_tool_name:
            arguments = tool_call_arguments(call["arguments"])
            text = arguments.get(options.assistant_message_tool_kwarg)
            out.append(AssistantMessage(**common, content=str(text if text is not None else "")))
        else:
            out.append(ToolCallMessage(**common, tool_call=wire, tool_calls=[wire]))
    return out


def partial_message(
    message_id: str, kind: str, text: str, *, name: str, sender_id: str, date: datetime
) -> LettaMessage:
    """One streamed piece of a reply (stream_tokens): it carries the id of the message it
    belongs to, so clients join the pieces."""
    if kind == "reasoning":
        return ReasoningMessage(
            id=message_id, date=date, name=name, sender_id=sender_id, reasoning=text
        )
    return AssistantMessage(id=message_id, date=date, name=name, sender_id=sender_id, content=text)


def hide_streamed(
    messages: list[LettaMessage], streamed: dict[str, set[str]]
) -> list[LettaMessage]:
    """Drop the whole reasoning and reply of messages whose pieces were already streamed."""
    kind_of = {"reasoning_message": "reasoning", "assistant_message": "text"}
    return [m for m in messages if kind_of.get(m.message_type) not in streamed.get(m.id, set())]
