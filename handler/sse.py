"""Server-sent events for the streaming send routes (SPEC §4), through sse-starlette.

sse-starlette writes the frames, sends the keep-alive pings and notices a client that went
away. What stays here is the hand-over from the send, which is synchronous code running in a
worker thread, to the response on the event loop: no library bridges a blocking producer
into an event stream with backpressure and a way out for the producer once nobody reads.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import anyio
from anyio.lowlevel import EventLoopToken, current_token
from starlette.background import BackgroundTask

from core.errors import DomainError
from core.ids import RUN, new_id
from core.observability import in_context
from core.schemas.messages import LettaMessage, LettaMessageBase, LettaResponse

if TYPE_CHECKING:  # sse-starlette imports uvicorn (~15 ms): only streams load it
    from sse_starlette import EventSourceResponse, ServerSentEvent

logger = logging.getLogger(__name__)

# Frames end in "\n\n" as Letta's do (sse-starlette defaults to "\r\n"); letta-client and the
# buffered Lambda body are read with this separator.
SEP = "\n"
# Events a send may get ahead of its reader before it waits for the reader (backpressure).
BUFFER = 64
# A reader that takes nothing for this long is treated as gone, so a connected client that
# stopped reading cannot hold a send (and its group's lease) for ever.
READER_STALL_S = 30.0

Event = tuple[str, Any]
Emit = Callable[[list[LettaMessage]], None]


def frame(payload: dict[str, Any] | str) -> ServerSentEvent:
    """One `data:` frame; JSON is compact and ASCII-escaped, so it is always one line."""
    from sse_starlette import ServerSentEvent

    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return ServerSentEvent(data, sep=SEP)


def ping() -> ServerSentEvent:
    """The keep-alive comment (`: ping`), which SSE clients skip."""
    from sse_starlette import ServerSentEvent

    return ServerSentEvent(comment="ping", sep=SEP)


def event_stream(
    frames: AsyncIterator[ServerSentEvent], *, ping_s: float, **options: Any
) -> EventSourceResponse:
    """The SSE response for `frames`, Letta's way: "\n\n" between frames, `: ping` every
    `ping_s` seconds while nothing else goes out."""
    from sse_starlette import EventSourceResponse

    return EventSourceResponse(frames, sep=SEP, ping=ping_s, ping_message_factory=ping, **options)


def sse_frames(events: Iterable[Event]) -> Iterator[ServerSentEvent]:
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


class Channel:
    """Events from the send's thread to the response on the event loop.

    Bounded, so a slow reader slows the send instead of piling up memory. Closing it (the
    client went away, or stopped reading for `stall_s`) wakes a send waiting for room and
    makes every later `put` a no-op: the send finishes its current work, committed as
    usual, without anyone reading it.
    """

    def __init__(self, token: EventLoopToken, stall_s: float = READER_STALL_S) -> None:
        self._token = token
        self._stall_s = stall_s
        self._writer, self._reader = anyio.create_memory_object_stream[Event](BUFFER)
        self._closed = threading.Event()

    def put(self, event: Event) -> None:
        """From the send's thread: wait for room, unless the reader is gone."""
        if self._closed.is_set():
            return
        try:
            anyio.from_thread.run(self._send, event, token=self._token)
        except (
            anyio.BrokenResourceError,  # the reader closed while this waited
            anyio.ClosedResourceError,
            concurrent.futures.CancelledError,  # the event loop cancelled the hand-over
            RuntimeError,  # the event loop is gone (anyio.RunFinishedError)
        ):
            self._closed.set()

    async def _send(self, event: Event) -> None:
        try:
            with anyio.fail_after(self._stall_s):
                await self._writer.send(event)
        except TimeoutError:
            logger.warning("stream reader took nothing for %ss; dropping the stream", self._stall_s)
            self.close()

    async def get(self) -> Event:
        return await self._reader.receive()

    def close(self) -> None:
        """On the event loop (memory streams are not thread-safe); idempotent."""
        self._closed.set()
        self._reader.close()

    async def aclose(self) -> None:
        """`close` as a coroutine, so a BackgroundTask runs it on the event loop."""
        self.close()


async def stream_send(
    send: Callable[[Emit], LettaResponse], *, ping_s: float
) -> EventSourceResponse:
    """Run a send in a worker thread and stream what it emits as SSE.

    The response starts once the send has produced its first event, so a failure before
    anything was produced (unknown group, busy group, bad input) is still an ordinary HTTP
    error from the error mapper; later failures become an error frame. While the send is
    silent, a `: ping` comment goes out every `ping_s` seconds.
    """
    channel = Channel(current_token())

    def run() -> None:
        try:
            response = send(lambda messages: channel.put(("messages", messages)))
            channel.put(("done", response))
        except Exception as error:  # noqa: BLE001 - handed to the stream or the error mapper
            channel.put(("error", error))

    # In a copy of this context: the send's log lines carry the request's ids.
    threading.Thread(target=in_context(run), name="stream-send", daemon=True).start()
    try:
        first = await channel.get()
    except BaseException:
        channel.close()
        raise
    if first[0] == "error":
        channel.close()
        raise first[1]
    return event_stream(
        _frames(first, channel),
        ping_s=ping_s,
        send_timeout=READER_STALL_S,
        # Also when the client left before the first frame was pulled from _frames.
        background=BackgroundTask(channel.aclose),
    )


async def _frames(first: Event, channel: Channel) -> AsyncIterator[ServerSentEvent]:
    """The frames of each event until the last one; closing (the client went away and
    sse-starlette cancelled or closed this generator) releases the send's thread."""
    event = first
    try:
        while True:
            for item in sse_frames([event]):
                yield item
            if event[0] != "messages":
                return
            event = await channel.get()
    finally:
        channel.close()
