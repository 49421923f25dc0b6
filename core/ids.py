"""Resource ids: `<prefix>-<uuid4>` in lowercase, as Letta and its SDK expect."""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Annotated, Final

from pydantic import StringConstraints

_UUID4: Final = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"

AGENT: Final = "agent"
BLOCK: Final = "block"
GROUP: Final = "group"
MESSAGE: Final = "message"
RUN: Final = "run"
STEP: Final = "step"

MESSAGE_PART_BITS: Final = 16
"""The low bits of a new message id, left zero: one stored message renders as several Letta
messages, and each part's id carries its slot there (core.message_parts)."""


def id_pattern(prefix: str) -> str:
    """The anchored regular expression a well-formed id of this prefix matches."""
    return rf"^{prefix}-{_UUID4}$"


def new_id(prefix: str) -> str:
    """A fresh id; uuid4 keeps ids unguessable and free of ordering assumptions. A message
    id ends in MESSAGE_PART_BITS zero bits (still 106 random ones), room for its parts' ids."""
    value = uuid.uuid4()
    if prefix == MESSAGE:
        value = uuid.UUID(int=value.int >> MESSAGE_PART_BITS << MESSAGE_PART_BITS)
    return f"{prefix}-{value}"


def derived_id(prefix: str, *parts: str) -> str:
    """The same id for the same parts, shaped as any other (a uuid4): so a copy of a record
    can be found again from the original's id (a relayed message, from its transcript entry)."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return f"{prefix}-{uuid.UUID(bytes=digest[:16], version=4)}"


def is_valid(prefix: str, value: str) -> bool:
    return re.fullmatch(id_pattern(prefix), value) is not None


def _constraints(prefix: str) -> StringConstraints:
    # The pattern alone fixes the length, and its error message shows the caller the
    # expected form (a length error would not).
    return StringConstraints(pattern=id_pattern(prefix))


AgentId = Annotated[str, _constraints(AGENT)]
BlockId = Annotated[str, _constraints(BLOCK)]
GroupId = Annotated[str, _constraints(GROUP)]
MessageId = Annotated[str, _constraints(MESSAGE)]
RunId = Annotated[str, _constraints(RUN)]
