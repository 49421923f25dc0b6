"""Route helpers: collection routes answer with and without Letta's trailing slash."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter

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
