"""What a streaming send hands its caller: rendered messages as they are saved, and pieces
of replies while they are produced, never both for the same part of a message."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from core.ports import Clock
from core.records import MessageRecord
from core.runtime.rendering import RenderOptions, hide_streamed, partial_message, render
from core.schemas.messages import LettaMessage

Emit = Callable[[list[LettaMessage]], None]


class ResponseStream:
    def __init__(self, emit: Emit, options: RenderOptions, clock: Clock) -> None:
        self._emit = emit
        self._options = options
        self._clock = clock
        self._streamed: dict[str, set[str]] = defaultdict(set)

    def saved(self, records: list[MessageRecord]) -> None:
        """Saved records, minus the reasoning and replies already streamed in pieces."""
        rendered = hide_streamed(render(records, self._options), self._streamed)
        if rendered:
            self._emit(rendered)

    def piece(self, message_id: str, kind: str, text: str, *, name: str, sender_id: str) -> None:
        """A piece of a reply while the model produces it (stream_tokens)."""
        self._streamed[message_id].add(kind)
        date = self._clock.now()
        self._emit(
            [partial_message(message_id, kind, text, name=name, sender_id=sender_id, date=date)]
        )
