"""The one place where errors become HTTP responses."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from core.errors import (
    BadRequestError,
    ConflictError,
    DomainError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    SendInterruptedError,
    UnauthorizedError,
)

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[DomainError], int] = {
    BadRequestError: 400,
    UnauthorizedError: 401,
    NotFoundError: 404,
    ConflictError: 409,
    PayloadTooLargeError: 413,
    InvalidInputError: 422,
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
    return JSONResponse({"detail": error.detail}, status_code=status, headers=headers or None)


def install_error_handlers(app: FastAPI) -> None:
    async def on_domain_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, DomainError)
        return domain_error_response(error)

    async def on_http_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        return JSONResponse(
            {"detail": error.detail}, status_code=error.status_code, headers=error.headers
        )

    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("unhandled error", exc_info=error)
        headers = {"x-should-retry": "false"} if is_send(request) else None
        return JSONResponse({"detail": "Internal server error"}, status_code=500, headers=headers)

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
