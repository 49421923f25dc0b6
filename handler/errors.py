"""The one place where errors become HTTP responses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from core.errors import (
    QUOTE_CHARS,
    BadRequestError,
    ConflictError,
    DomainError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    SendInterruptedError,
    ServiceUnavailableError,
    UnauthorizedError,
    quote,
)

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[DomainError], int] = {
    BadRequestError: 400,
    UnauthorizedError: 401,
    NotFoundError: 404,
    ConflictError: 409,
    PayloadTooLargeError: 413,
    InvalidInputError: 422,
    ServiceUnavailableError: 503,
}


def status_for(error: DomainError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[kind]
    return 500


def domain_error_response(error: DomainError) -> JSONResponse:
    status = status_for(error)
    if isinstance(error, InvalidInputError):
        detail = [{"loc": list(error.loc), "msg": error.detail, "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=status)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if isinstance(error, SendInterruptedError):
        headers["x-should-retry"] = "false"
    if isinstance(error, ServiceUnavailableError):
        headers["Retry-After"] = str(error.retry_after_s)
    return JSONResponse({"detail": error.detail}, status_code=status, headers=headers or None)


def error_response_for(request: Request, error: DomainError) -> JSONResponse:
    """`domain_error_response`, marked `x-should-retry: false` when it is a send route's
    5xx (SPEC §6), wherever the error is raised: in a route or while authenticating."""
    response = domain_error_response(error)
    if response.status_code >= 500 and is_send(request):
        response.headers["x-should-retry"] = "false"
    return response


def install_error_handlers(app: FastAPI) -> None:
    async def on_domain_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, DomainError)
        return error_response_for(request, error)

    async def on_http_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        return JSONResponse(
            {"detail": error.detail}, status_code=error.status_code, headers=error.headers
        )

    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("unhandled error", exc_info=error)
        headers = {"x-should-retry": "false"} if is_send(request) else None
        return JSONResponse({"detail": "Internal server error"}, status_code=500, headers=headers)

    async def on_invalid_request(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return JSONResponse({"detail": [_bounded(e) for e in error.errors()]}, status_code=422)

    app.add_exception_handler(RequestValidationError, on_invalid_request)
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


def is_send(request: Request) -> bool:
    """The send routes: their 5xx must not be retried blindly by the SDK (SPEC §6), since
    part of the send may already have happened."""
    path = request.url.path.rstrip("/")
    return request.method == "POST" and path.endswith(
        ("/messages", "/messages/stream", "/messages/async")
    )


def _bounded(error: Any) -> dict[str, Any]:
    """One validation error as FastAPI shows it, with the input it quotes cut to a short
    prefix and every value plain JSON: the 422 of a 10 MB body is not 10 MB, and one that
    quotes NaN or an exception still serializes."""
    shown: dict[str, Any] = {
        "type": str(error.get("type", "value_error")),
        "loc": [part if isinstance(part, int) else str(part) for part in error.get("loc", ())],
        "msg": str(error.get("msg", "")),
    }
    if "input" in error:
        shown["input"] = _short(error["input"])
    if isinstance(error.get("ctx"), dict):
        shown["ctx"] = {str(k): _short(v) for k, v in error["ctx"].items()}
    return shown


def _short(value: Any) -> Any:
    if value is None or isinstance(value, bool) or (isinstance(value, int) and abs(value) < 2**53):
        return value
    if isinstance(value, str):
        text = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return text if len(text) <= QUOTE_CHARS else f"{text[:QUOTE_CHARS]}…"
    return quote(value)
