"""Request messages to stored records, refusing what the agent's model cannot take."""

from __future__ import annotations

from typing import Any

from core import ids
from core.errors import InvalidInputError, PayloadTooLargeError
from core.model_handles import PROVIDERS, parse_handle
from core.ports import Clock, StoreLimits
from core.records import MessageRecord
from core.schemas.content import ImageContent, TextContent
from core.schemas.messages import MessageCreate


def max_message_bytes(limits: StoreLimits) -> int:
    """Largest input message: three quarters of a stored record (300 KB on DynamoDB), the
    rest left for what the turn adds to the stored message (ids, run and step tags)."""
    return limits.max_record_bytes * 3 // 4


def input_records(
    messages: list[MessageCreate],
    model_handle: str,
    clock: Clock,
    *,
    limits: StoreLimits,
    loc_prefix: tuple[str | int, ...] = ("body", "messages"),
    group_id: str | None = None,
) -> list[MessageRecord]:
    """Unsaved records for the caller's messages; a content part the model cannot take is a
    422 that names it, never silently dropped. A message too big for the store (`limits`)
    is a 413."""
    max_bytes = max_message_bytes(limits)
    provider = PROVIDERS[parse_handle(model_handle, ("body", "override_model"))[0]]
    records = []
    for index, message in enumerate(messages):
        text, parts = _content(message, provider.name, provider.image_sources, (*loc_prefix, index))
        records.append(
            MessageRecord(
                id=ids.new_id(ids.MESSAGE),
                created_at=clock.now(),
                parent_id="",
                seq=0,
                role=message.role,
                text=text,
                content=parts,
                name=message.name,
                sender_id=message.sender_id,
                otid=message.otid,
                group_id=group_id,
            )
        )
    for index, record in enumerate(records):
        size = len(record.model_dump_json())
        if size > max_bytes:
            raise PayloadTooLargeError(
                f"Message {index} is {size} bytes once stored; the limit is "
                f"{max_bytes}. Send large content in smaller parts."
            )
    return records


def _content(
    message: MessageCreate,
    provider: str,
    image_sources: frozenset[str],
    loc: tuple[str | int, ...],
) -> tuple[str, list[dict[str, Any]] | None]:
    if isinstance(message.content, str):
        return message.content, None
    texts: list[str] = []
    for index, part in enumerate(message.content):
        part_loc = (*loc, "content", index)
        if isinstance(part, TextContent):
            texts.append(part.text)
        elif isinstance(part, ImageContent):
            if message.role != "user":
                raise InvalidInputError("Only user messages can carry images.", part_loc)
            if part.source.type not in image_sources:
                raise InvalidInputError(
                    f"Provider {provider!r} cannot take an image given as "
                    f"{part.source.type!r}; send it as "
                    f"{' or '.join(sorted(image_sources))}.",
                    part_loc,
                )
        else:
            raise InvalidInputError(
                f"A {part.type!r} content part cannot be sent in a {message.role} message.",
                part_loc,
            )
    has_images = any(isinstance(p, ImageContent) for p in message.content)
    parts = [p.model_dump(mode="json") for p in message.content] if has_images else None
    return "\n".join(texts), parts
