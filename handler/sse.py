"""Server-sent event frames for the streaming send routes (SPEC §4)."""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi.responses import StreamingResponse

from core.errors import DomainError
from core.ids import RUN, new_id
from core.schemas.messages import LettaMessageBase, LettaResponse

logger = logging.getLogger(__name__)


def frame(payload: dict[str, Any] | str) -> str:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {data}\n\n"


def sse_frames(events: Iterable[tuple[str, Any]]) -> Iterator[str]:
    """("messages", [...]) → one frame per message; ("done", LettaResponse) → stop reason,
    usage, [DONE]; ("error", exc) → an error_message frame and a stop reason, never a torn
    connection."""
    for kind, value in events:
        if kind == "messages":
            for message in value:
                assert isinstance(message, LettaMessageBase)
                yield frame(message.model_dump(mode="json"))
        elif kind == "done":
            assert isinstance(value, LettaResponse)
            yield frame(value.stop_reason.model_dump(mode="json"))
            yield frame(value.usage.model_dump(mode="json"))
            yield frame("[DONE]")
        else:
            # Letta's error frame names a run; this id also tags the log line of the failure.
            stream_id = new_id(RUN)
            detail = value.detail if isinstance(value, DomainError) else "Internal error"
            if not isinstance(value, DomainError):
                logger.error("stream %s failed", stream_id, exc_info=value)
            yield frame(
                {
                    "message_type": "error_message",
                    "run_id": stream_id,
                    "error_type": type(value).__name__,
                    "message": detail,
                    "detail": detail,
                }
            )
            yield frame({"message_type": "stop_reason", "stop_reason": "error"})
            yield frame("[DONE]")


Emit = Callable[[list[LettaMessageBase]], None]


def stream_send(send: Callable[[Emit], LettaResponse]) -> StreamingResponse:
    """Run a send in a worker thread and stream what it emits as SSE.

    The response starts once the send has produced its first event, so a failure before
    anything was produced (unknown group, busy group, bad input) is still an ordinary HTTP
    error from the error mapper; later failures become an error frame.
    """
    events: queue.Queue[tuple[str, Any]] = queue.Queue()

    def run() -> None:
        try:
            response = send(lambda messages: events.put(("messages", messages)))
            events.put(("done", response))
        except Exception as error:  # noqa: BLE001 - handed to the stream or the error mapper
            events.put(("error", error))

    threading.Thread(target=run, name="stream-send", daemon=True).start()
    first = events.get()
    if first[0] == "error":
        raise first[1]

    def items() -> Iterator[tuple[str, Any]]:
        item = first
        while True:
            yield item
            if item[0] in ("done", "error"):
                return
            item = events.get()

    return StreamingResponse(sse_frames(items()), media_type="text/event-stream")
