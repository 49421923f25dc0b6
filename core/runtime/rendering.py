"""Stored messages to the typed Letta messages responses and listings are made of."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.paging import PageRequest
from core.records import MessageRecord
from core.runtime.agent_loop import tool_call_arguments
from core.schemas.messages import (
    ApprovalRequestMessage,
    ApprovalResponseMessage,
    AssistantMessage,
    EventMessage,
    HiddenReasoningMessage,
    LettaMessageBase,
    ReasoningMessage,
    SummaryMessage,
    SystemMessage,
    ToolCallMessage,
    ToolCallWire,
    ToolReturnMessage,
    UserMessage,
)


@dataclass(frozen=True)
class RenderOptions:
    use_assistant_message: bool = True
    assistant_message_tool_name: str = "send_message"
    assistant_message_tool_kwarg: str = "message"
    include_return_message_types: tuple[str, ...] | None = None
    include_compaction_messages: bool = True


def render(records: list[MessageRecord], options: RenderOptions) -> list[LettaMessageBase]:
    messages = [m for record in records for m in render_one(record, options)]
    wanted = options.include_return_message_types
    if wanted is not None:
        messages = [m for m in messages if m.message_type in wanted]  # type: ignore[attr-defined]
    return messages


def render_page(
    records: list[MessageRecord], page: PageRequest, options: RenderOptions
) -> list[LettaMessageBase]:
    """A listing page: newest-first pages are reversed message by message, so the parts of
    one stored message (reasoning, then reply) also come newest first."""
    if page.order == "asc":
        return render(records, options)
    return list(reversed(render(list(reversed(records)), options)))


def render_one(record: MessageRecord, options: RenderOptions) -> list[LettaMessageBase]:
    common = {
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
        return [UserMessage(**common, content=record.content or record.text or "")]
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
        return [ApprovalResponseMessage(**common, approvals=record.approvals)]
    if record.role == "summary":
        if not options.include_compaction_messages:
            return []
        return [
            SummaryMessage(**common, summary=record.text or ""),
            EventMessage(**common, event_data={"summary_message_id": record.id}),
        ]
    return _render_assistant(record, common, options)


def _render_assistant(
    record: MessageRecord, common: dict, options: RenderOptions
) -> list[LettaMessageBase]:
    out: list[LettaMessageBase] = []
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
) -> LettaMessageBase:
    """One streamed piece of a reply (stream_tokens): it carries the id of the message it
    belongs to, so clients join the pieces."""
    common = {"id": message_id, "date": date, "name": name, "sender_id": sender_id}
    if kind == "reasoning":
        return ReasoningMessage(**common, reasoning=text)
    return AssistantMessage(**common, content=text)


def hide_streamed(
    messages: list[LettaMessageBase], streamed: dict[str, set[str]]
) -> list[LettaMessageBase]:
    """Drop the whole reasoning and reply of messages whose pieces were already streamed."""
    kind_of = {"reasoning_message": "reasoning", "assistant_message": "text"}
    return [
        m
        for m in messages
        if kind_of.get(m.message_type) not in streamed.get(m.id, set())  # type: ignore[attr-defined]
    ]
