"""ASGI middleware: a request body is bounded and checked before any route parses it.

Order of answers, whatever the body: 401 for a caller without valid credentials (no body
is looked at for them), then 413 for a body over API Gateway's 10 MB (refused from its
Content-Length before it is read, or as soon as the bytes read pass it), then the JSON
bounds of `handler.json_limits` (413 or 422 naming the field). Checking a large body runs
in a worker thread, so the event loop (health checks, other requests, streams) keeps
answering meanwhile. A body that passes is handed on unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import UnauthorizedError
from handler.errors import domain_error_response
from handler.json_limits import MAX_BODY_BYTES, BodyProblem, check_json

_WITH_BODY = {"POST", "PUT", "PATCH"}
_INLINE_BYTES = 64 * 1024
"""Bodies up to this size are checked on the event loop: a thread costs more than that."""

Authenticate = Callable[[Request], Awaitable[object]]


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


class RequestLimits:
    """`authenticate(request)` raises UnauthorizedError for a caller it refuses."""

    def __init__(self, app: ASGIApp, authenticate: Authenticate) -> None:
        self.app = app
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        problem: BodyProblem | None = None
        body = b""
        if _declared_length(scope) > MAX_BODY_BYTES:
            problem = _too_large()
        else:
            try:
                body = await _read_body(receive)
            except BodyTooLarge:
                problem = _too_large()
            except ClientGone:
                return
        if problem is None and body and _is_json(scope):
            if len(body) <= _INLINE_BYTES:
                problem = check_json(body)
            else:
                problem = await run_in_threadpool(check_json, body)
        if problem is not None:
            response = await self._refusal(scope, problem)
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _refusal(self, scope: Scope, problem: BodyProblem) -> JSONResponse:
        try:
            await self.authenticate(Request(scope))
        except UnauthorizedError as exc:
            return domain_error_response(exc)
        if problem.status == 422:
            detail = [{"type": problem.kind, "loc": list(problem.loc), "msg": problem.message}]
            return JSONResponse({"detail": detail}, status_code=422)
        where = ".".join(str(part) for part in problem.loc)
        return JSONResponse({"detail": f"{where}: {problem.message}"}, status_code=413)


def _too_large() -> BodyProblem:
    return BodyProblem(
        413,
        ("body",),
        f"Request body is larger than {MAX_BODY_BYTES} bytes (API Gateway's limit).",
        "body_too_large",
    )


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def _is_json(scope: Scope) -> bool:
    """JSON, or no Content-Type at all (read as JSON by DefaultJsonContentType)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media = value.split(b";")[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return True


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body once, as one message; then whatever the server says (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
