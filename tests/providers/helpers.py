"""Recorded provider payloads and a fake HTTP provider that records what the adapter sends."""

from __future__ import annotations

import json
from collections.abc import Callable
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
