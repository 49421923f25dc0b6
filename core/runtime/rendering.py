"""Stored messages to the typed Letta messages responses and listings are made of."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, TypedDict

from core.lazy_model import deferred_adapter
from core.message_parts import EVENT, MAIN, REASONING, part_id, tool_call_slot
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
_USER_CONTENT = deferred_adapter(list[UserContentPart])
_APPROVALS = deferred_adapter(list[Approval])


@dataclass(frozen=True)
class RenderOptions:
    use_assistant_message: bool = True
    assistant_message_tool_name: str = "send_message"
    assistant_message_tool_kwarg: str = "message"
    include_return_message_types: tuple[str, ...] | None = None
    include_compaction_messages: bool = True


class _Common(TypedDict):
    """The fields every message rendered from one stored message shares (all but its id)."""

    date: datetime
    name: str | None
    otid: str | None
    sender_id: str | None
    step_id: str | None
    is_err: bool | None
    seq_id: int | None
    run_id: str | None


class Part(NamedTuple):
    """One Letta message a stored message renders as, and its slot (core.message_parts)."""

    slot: int
    message: LettaMessage


_EVERY_PART = RenderOptions(use_assistant_message=False)


def render(records: Sequence[MessageRecord], options: RenderOptions) -> list[LettaMessage]:
    return [
        part.message
        for record in records
        for part in render_parts(record, options)
        if wanted(part.message, options)
    ]


def wanted(message: LettaMessage, options: RenderOptions) -> bool:
    """True unless `include_return_message_types` leaves this message type out."""
    types = options.include_return_message_types
    return types is None or message.message_type in types


def slots(record: MessageRecord) -> set[int]:
    """The slots of every part the record can render as, whatever the options."""
    return {part.slot for part in render_parts(record, _EVERY_PART)}


def render_parts(record: MessageRecord, options: RenderOptions) -> list[Part]:
    """The record's parts in order (message_parts.rank), each with its own id; not filtered
    by `include_return_message_types`, which applies to whole lists."""
    common: _Common = {
        "date": record.created_at,
        "name": record.name,
        "otid": record.otid,
        "sender_id": record.sender_id,
        "step_id": record.step_id,
        "is_err": record.is_err,
        "seq_id": record.seq,
        "run_id": record.run_id,
    }
    main = part_id(record.id, MAIN)
    if record.role == "user":
        content = record.content or record.text or ""
        if isinstance(content, list):
            parts = _USER_CONTENT.validate_python(content)
            return [Part(MAIN, UserMessage(**common, id=main, content=parts))]
        return [Part(MAIN, UserMessage(**common, id=main, content=content))]
    if record.role == "system":
        return [Part(MAIN, SystemMessage(**common, id=main, content=record.text or ""))]
    if record.role == "tool":
        if (
            options.use_assistant_message
            and record.tool_name == options.assistant_message_tool_name
        ):
            return []
        returned = ToolReturnMessage(
            **common,
            id=main,
            tool_return=record.text or "",
            status="error" if record.tool_status == "error" else "success",
            tool_call_id=record.tool_call_id or "",
        )
        return [Part(MAIN, returned)]
    if record.role == "approval":
        approvals = record.approvals
        response = ApprovalResponseMessage(
            **common,
            id=main,
            approvals=None if approvals is None else _APPROVALS.validate_python(approvals),
        )
        return [Part(MAIN, response)]
    if record.role == "summary":
        if not options.include_compaction_messages:
            return []
        event = EventMessage(
            **common, id=part_id(record.id, EVENT), event_data={"summary_message_id": main}
        )
        return [
            Part(MAIN, SummaryMessage(**common, id=main, summary=record.text or "")),
            Part(EVENT, event),
        ]
    return _render_assistant(record, common, options)


def _render_assistant(record: MessageRecord, common: _Common, options: RenderOptions) -> list[Part]:
    out: list[Part] = []
    thought = part_id(record.id, REASONING)
    reasoning = record.reasoning or {}
    if reasoning.get("redacted_data") or reasoning.get("omitted"):
        hidden = HiddenReasoningMessage(
            **common,
            id=thought,
            state="redacted" if reasoning.get("redacted_data") else "omitted",
            hidden_reasoning=reasoning.get("redacted_data"),
        )
        out.append(Part(REASONING, hidden))
    elif reasoning.get("text"):
        shown = ReasoningMessage(
            **common,
            id=thought,
            reasoning=reasoning["text"],
            source="reasoner_model" if reasoning.get("native") else "non_reasoner_model",
            signature=reasoning.get("signature"),
        )
        out.append(Part(REASONING, shown))
    if record.text:
        out.append(Part(MAIN, AssistantMessage(**common, id=record.id, content=record.text)))
    for index, call in enumerate(record.tool_calls):
        slot = tool_call_slot(index)
        call_id = part_id(record.id, slot)
        wire = ToolCallWire(name=call["name"], arguments=call["arguments"], tool_call_id=call["id"])
        message: LettaMessage
        if call["id"] in record.approval_call_ids:
            message = ApprovalRequestMessage(
                **common, id=call_id, tool_call=wire, tool_calls=[wire]
            )
        elif options.use_assistant_message and call["name"] == options.assistant_message_tool_name:
            arguments = tool_call_arguments(call["arguments"])
            text = arguments.get(options.assistant_message_tool_kwarg)
            content = str(text if text is not None else "")
            message = AssistantMessage(**common, id=call_id, content=content)
        else:
            message = ToolCallMessage(**common, id=call_id, tool_call=wire, tool_calls=[wire])
        out.append(Part(slot, message))
    return out


def partial_message(
    message_id: str, kind: str, text: str, *, name: str, sender_id: str, date: datetime
) -> LettaMessage:
    """One streamed piece of a step's reasoning or reply (stream_tokens): it carries the id
    its whole part will have (`message_id` is the step's record id), so clients join the
    pieces and match them to the saved message."""
    if kind == "reasoning":
        return ReasoningMessage(
            id=part_id(message_id, REASONING),
            date=date,
            name=name,
            sender_id=sender_id,
            reasoning=text,
        )
    return AssistantMessage(
        id=part_id(message_id, MAIN), date=date, name=name, sender_id=sender_id, content=text
    )
