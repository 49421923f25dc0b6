"""What a streaming send hands its caller: rendered messages as they are saved, and pieces
of replies while they are produced, never both for the same part of a message."""

from __future__ import annotations

from collections.abc import Callable

from core.ports import Clock
from core.records import MessageRecord
from core.runtime.rendering import RenderOptions, partial_message, render
from core.schemas.messages import LettaMessage

Emit = Callable[[list[LettaMessage]], None]


class ResponseStream:
    def __init__(self, emit: Emit, options: RenderOptions, clock: Clock) -> None:
        self._emit = emit
        self._options = options
        self._clock = clock
        self._streamed: set[tuple[str, str]] = set()
        """(id, message_type) of every part already sent in pieces."""

    def saved(self, records: list[MessageRecord]) -> None:
        """Saved records, minus the parts already streamed in pieces (a piece carries the
        id of its part: core.message_parts)."""
        rendered = [
            m
            for m in render(records, self._options)
            if (m.id, m.message_type) not in self._streamed
        ]
        if rendered:
            self._emit(rendered)

    def piece(self, message_id: str, kind: str, text: str, *, name: str, sender_id: str) -> None:
        """A piece of a reply while the model produces it (stream_tokens); `message_id` is
        the id of the record the step will be saved as."""
        date = self._clock.now()
        piece = partial_message(message_id, kind, text, name=name, sender_id=sender_id, date=date)
        self._streamed.add((piece.id, piece.message_type))
        self._emit([piece])
