"""The ids of the parts one stored message renders as.

An assistant step is stored once but shown as several Letta messages (its reasoning, its
reply, each tool call), a compaction summary as two. Each part has an id of its own, so a
listing can stop after any part and a cursor names exactly one. A part's id is its
record's id with the part's slot XORed into the low MESSAGE_PART_BITS bits, which new
message ids leave zero (core.ids.new_id): the record and the slot are read back from the id
alone, and slot 0 (the reply, or the only part) keeps the record's own id. A record stored
before ids left those bits zero still gets distinct part ids (the XOR), but only its slot-0
id leads back to it.
"""

from __future__ import annotations

from typing import Final

from core import ids

_DIGITS: Final = ids.MESSAGE_PART_BITS // 4
_MASK: Final = (1 << ids.MESSAGE_PART_BITS) - 1

MAIN: Final = 0
"""The reply text, a summary, or the only part of a single-part message."""
REASONING: Final = 1
"""Reasoning, shown or hidden."""
EVENT: Final = 2
"""A summary's event message."""
FIRST_TOOL_CALL: Final = 16
"""Tool call k of a step (an approval request, a call, or a send_message reply) is slot 16 + k."""
LAST_RANK: Final = _MASK + 1
"""Above the rank of every part."""


def tool_call_slot(index: int) -> int:
    """The slot of a step's tool call `index`. A record holds at most 400 KB, so far fewer
    than 65,520 calls: running out of slots is a bug, not an input."""
    slot = FIRST_TOOL_CALL + index
    if slot > _MASK:
        raise ValueError(f"A message has more tool calls than part ids ({index + 1}).")
    return slot


def part_id(record_id: str, slot: int) -> str:
    """The id of the part `slot` of the stored message `record_id`."""
    if slot == MAIN:
        return record_id
    head, tail = record_id[:-_DIGITS], int(record_id[-_DIGITS:], 16)
    return f"{head}{tail ^ slot:0{_DIGITS}x}"


def owners(message_id: str) -> list[tuple[str, int]]:
    """The (record id, slot) pairs a message id may name, likeliest first: the part of a
    record whose id ends in zero bits, then a record's own id (one stored before)."""
    if not ids.is_valid(ids.MESSAGE, message_id):
        return [(message_id, MAIN)]
    slot = int(message_id[-_DIGITS:], 16)
    if slot == MAIN:
        return [(message_id, MAIN)]
    return [(part_id(message_id, slot), slot), (message_id, MAIN)]


def is_part_of(message_id: str, record_id: str) -> bool:
    """True when `message_id` is the id of one of the parts of `record_id`."""
    if len(message_id) != len(record_id) or not ids.is_valid(ids.MESSAGE, message_id):
        return message_id == record_id
    return message_id[:-_DIGITS] == record_id[:-_DIGITS]


def rank(slot: int) -> int:
    """Where a part comes among its record's parts: reasoning, the reply (or a summary),
    the summary's event, then the tool calls in order. Listings sort by (seq, rank)."""
    if slot == REASONING:
        return 0
    if slot == MAIN:
        return 1
    return slot
