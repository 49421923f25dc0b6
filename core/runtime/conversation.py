"""Stored messages to the provider-neutral conversation a model sees.

The conversation is repaired on the way: a tool result whose call fell out of the window
is dropped, and a call left without a result (an approval still pending, a step cut short)
gets a placeholder result, because every provider rejects unpaired tool calls.
"""

from __future__ import annotations

from core.llm import ChatMessage, Image, Reasoning, ToolCall
from core.records import MessageRecord

NOT_RUN = "This tool call was not run."


def to_chat(records: list[MessageRecord]) -> list[ChatMessage]:
    chat: list[ChatMessage] = []
    open_calls: dict[str, str] = {}
    for record in records:
        if record.role == "user":
            _close(chat, open_calls)
            chat.append(
                ChatMessage(
                    role="user",
                    text=record.text,
                    images=_images(record),
                    name=record.name,
                )
            )
        elif record.role == "system":
            _close(chat, open_calls)
            chat.append(ChatMessage(role="user", text=f"[system message] {record.text or ''}"))
        elif record.role == "assistant" and not record.is_err:
            _close(chat, open_calls)
            calls = tuple(ToolCall(c["id"], c["name"], c["arguments"]) for c in record.tool_calls)
            chat.append(
                ChatMessage(
                    role="assistant",
                    text=record.text,
                    tool_calls=calls,
                    reasoning=Reasoning(**record.reasoning) if record.reasoning else None,
                )
            )
            open_calls = {c.id: c.name for c in calls}
        elif record.role == "tool" and record.tool_call_id in open_calls:
            open_calls.pop(record.tool_call_id)
            chat.append(
                ChatMessage(
                    role="tool",
                    text=record.text or "",
                    tool_call_id=record.tool_call_id,
                    tool_name=record.tool_name,
                    is_error=record.tool_status == "error",
                )
            )
    _close(chat, open_calls)
    return chat


def _close(chat: list[ChatMessage], open_calls: dict[str, str]) -> None:
    for call_id, name in open_calls.items():
        chat.append(
            ChatMessage(
                role="tool", text=NOT_RUN, tool_call_id=call_id, tool_name=name, is_error=True
            )
        )
    open_calls.clear()


def _images(record: MessageRecord) -> tuple[Image, ...]:
    images = []
    for part in record.content or []:
        if part.get("type") != "image":
            continue
        source = part["source"]
        images.append(
            Image(
                url=source.get("url"),
                data=source.get("data"),
                media_type=source.get("media_type"),
                detail=source.get("detail"),
            )
        )
    return tuple(images)


def estimate_tokens(text: str) -> int:
    """A provider-free size estimate (about four characters a token), for compaction."""
    return len(text) // 4 + 1


def conversation_tokens(chat: list[ChatMessage]) -> int:
    return sum(
        estimate_tokens((m.text or "") + "".join(c.arguments for c in m.tool_calls)) + 4
        for m in chat
    )
