"""Route helpers: collection routes answer with and without Letta's trailing slash."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from starlette.types import ASGIApp, Receive, Scope, Send

F = Callable[..., Any]


def collection(router: APIRouter, method: str, **kwargs: Any) -> Callable[[F], F]:
    """Register `prefix/` (Letta's spelling, in the schema) and `prefix` for one endpoint.

    Serving both directly avoids the 307 redirect that breaks behind an API Gateway stage.
    """

    def register(endpoint: F) -> F:
        router.add_api_route("/", endpoint, methods=[method], **kwargs)
        router.add_api_route("", endpoint, methods=[method], include_in_schema=False, **kwargs)
        return endpoint

    return register


class TrailingSlashOptional:
    """Route `/v1/agents/{id}/` as `/v1/agents/{id}`: item routes answer the same with or
    without a trailing slash, as collection routes do (no 307, which breaks behind an API
    Gateway stage)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/") or "/"}
        await self.app(scope, receive, send)
