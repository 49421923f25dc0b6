"""The shared group transcript: what members said in public, and how it reaches the others.

Only public speech is relayed: the user's messages and each member's reply (its assistant
text, or the message of its send_message call). Reasoning, tool calls and tool results stay
with the agent that made them.
"""

from __future__ import annotations

from collections.abc import Sequence

from core import ids
from core.ports import Clock
from core.records import MessageRecord, TranscriptRecord
from core.runtime.tool_arguments import tool_call_arguments
from core.runtime.tools import SEND_MESSAGE


def public_text(record: MessageRecord) -> str | None:
    """What a message said out loud, or None for private or empty messages."""
    if record.role in ("user", "system"):
        return record.text
    if record.role != "assistant" or record.is_err:
        return None
    parts = [record.text] if record.text else []
    for call in record.tool_calls:
        if call["name"] == SEND_MESSAGE:
            message = tool_call_arguments(call["arguments"]).get("message")
            if message:
                parts.append(str(message))
    return "\n".join(parts) or None


def to_transcript(
    records: list[MessageRecord], group_id: str, first_seq: int
) -> list[TranscriptRecord]:
    """Transcript copies of messages (same ids), numbered from `first_seq`."""
    return [
        TranscriptRecord(
            **record.model_dump(exclude={"parent_id", "seq", "version", "updated_at"}),
            parent_id=group_id,
            seq=first_seq + offset,
        )
        for offset, record in enumerate(records)
    ]


def relayed_id(entry_id: str, listener_id: str) -> str:
    """The id of the copy of a transcript entry relayed to one member: derived, so an edit
    of the entry finds every copy by key."""
    return ids.derived_id(ids.MESSAGE, entry_id, listener_id)


def relay(entries: list[TranscriptRecord], listener_id: str, clock: Clock) -> list[MessageRecord]:
    """New input records for `listener_id`: everything public in `entries` said by someone
    else, as user messages carrying the speaker's name."""
    relayed = []
    for entry in entries:
        if entry.sender_id == listener_id and entry.role not in ("user", "system"):
            continue
        text = public_text(entry)
        if not text:
            continue
        relayed.append(
            MessageRecord(
                id=relayed_id(entry.id, listener_id),
                created_at=clock.now(),
                parent_id=listener_id,
                seq=0,
                role="system" if entry.role == "system" else "user",
                text=text,
                content=entry.content if entry.role == "user" else None,
                name=entry.name,
                sender_id=entry.sender_id,
                otid=entry.otid if entry.role == "user" else None,
                group_id=entry.parent_id,
            )
        )
    return relayed


def as_lines(entries: Sequence[MessageRecord]) -> str:
    """Messages (the transcript, an agent's own) as `name: text` lines of what was said out
    loud, for managers and sleeptime agents."""
    lines = []
    for entry in entries:
        text = public_text(entry)
        if text:
            lines.append(f"{entry.name or entry.role}: {text}")
    return "\n".join(lines)
