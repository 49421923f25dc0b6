"""Recorded provider payloads and a fake HTTP provider that records what the adapter sends."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

PAYLOADS = Path(__file__).parent / "payloads"

Reply = httpx.Response | Callable[[httpx.Request], httpx.Response]


def load(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def reply(name: str, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=load(name), headers=headers)


def raw(body: str, status: int = 200, content_type: str = "text/html") -> httpx.Response:
    return httpx.Response(status, text=body, headers={"content-type": content_type})


def raises(exc_type: type[httpx.TransportError]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("simulated", request=request)

    return handler


class FakeProvider:
    """An httpx MockTransport: replays queued replies in order and keeps every request."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        nxt = self.replies.pop(0)
        return nxt if isinstance(nxt, httpx.Response) else nxt(request)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self._handle))

    @property
    def sent(self) -> dict[str, Any]:
        """The JSON body of the last request."""
        return json.loads(self.requests[-1].content)


def sse_body(name: str) -> bytes:
    return (PAYLOADS / f"{name}.sse").read_bytes()


class ChunkedStream(httpx.SyncByteStream):
    """A streamed body delivered in small byte chunks (lines and UTF-8 split across them),
    optionally failing with `fail_with` after `fail_after` bytes, like a dropped connection."""

    def __init__(
        self,
        body: bytes,
        chunk_size: int = 37,
        fail_after: int | None = None,
        fail_with: type[httpx.TransportError] = httpx.RemoteProtocolError,
    ) -> None:
        self.body = body
        self.chunk_size = chunk_size
        self.fail_after = fail_after
        self.fail_with = fail_with

    def __iter__(self) -> Iterator[bytes]:
        end = len(self.body) if self.fail_after is None else self.fail_after
        for start in range(0, end, self.chunk_size):
            yield self.body[start : min(start + self.chunk_size, end)]
        if self.fail_after is not None:
            raise self.fail_with("peer closed connection without sending complete message body")


def sse(
    name: str,
    status: int = 200,
    fail_after: int | None = None,
    fail_with: type[httpx.TransportError] = httpx.RemoteProtocolError,
) -> httpx.Response:
    """A recorded server-sent-event stream, as a streamed (chunked) response."""
    return httpx.Response(
        status,
        headers={"content-type": "text/event-stream"},
        stream=ChunkedStream(sse_body(name), fail_after=fail_after, fail_with=fail_with),
    )


class Deltas:
    """An on_delta callback that records what it was given, in order."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, kind: str, piece: str) -> None:
        self.seen.append((kind, piece))

    def joined(self, kind: str) -> str:
        return "".join(p for k, p in self.seen if k == kind)

    def kinds(self) -> list[str]:
        """The kinds in arrival order, with consecutive repeats collapsed."""
        out: list[str] = []
        for kind, _ in self.seen:
            if not out or out[-1] != kind:
                out.append(kind)
        return out
