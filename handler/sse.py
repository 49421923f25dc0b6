"""Server-sent event frames for the streaming send routes (SPEC §4)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

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
