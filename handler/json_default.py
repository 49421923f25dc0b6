"""Treat a request body sent without Content-Type as JSON.

Every body this API takes is JSON, and some callers omit the header (API Gateway's
console test events, curl -d without -H). FastAPI would refuse such a body with a
confusing 422; with this middleware it is parsed. A body declared as anything else is
still refused.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

_WITH_BODY = {"POST", "PUT", "PATCH"}


class DefaultJsonContentType:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _WITH_BODY:
            headers = scope["headers"]
            if not any(name == b"content-type" for name, _ in headers):
                scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)
