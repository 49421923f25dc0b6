"""Authentication before anything else: a request without a valid key is answered 401
before its route reads, parses or validates the body.

FastAPI reads and parses a route's body before it solves the route's dependencies, so a
dependency alone would let a bad body answer 422 to a caller with no key. This middleware
authenticates every request but those to PUBLIC_PATHS, and leaves the tenant in the
request's state for that dependency (handler.deps.TenantDep) to return.
"""

from __future__ import annotations

from fastapi.security import APIKeyHeader, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from core.errors import DomainError
from handler.errors import error_response_for

PUBLIC_PATHS = frozenset(
    {"/v1/health", "/v1/health/", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
)
"""The paths served without a key: the health check and the API's documents. Every other
route takes TenantDep, whose security schemes the OpenAPI document lists
(tests/api/test_api_keys.py holds the two to each other)."""
TENANT_STATE = "tenant"
"""The request-state entry holding the authenticated tenant."""

# FastAPI's security classes read the headers and list the schemes in the OpenAPI document;
# auto_error=False leaves the answer (and its 401 body) to core's Authenticator and
# handler/errors.py. "bearerAuth" is the name Letta's own OpenAPI document gives its scheme.
bearer_scheme = HTTPBearer(
    scheme_name="bearerAuth",
    description="`Authorization: Bearer <key>`, a key made by `python -m handler.keys create`.",
    auto_error=False,
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key",
    scheme_name="apiKeyHeader",
    description="The same key in an `X-API-Key` header, for clients that send one.",
    auto_error=False,
)


async def presented_key(connection: HTTPConnection) -> str | None:
    """The key a request brings: its bearer token, else its X-API-Key header."""
    bearer = await bearer_scheme(connection)
    return bearer.credentials if bearer else await api_key_scheme(connection)


class AuthenticateFirst:
    """Pure ASGI middleware: nothing of the request is read but its headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _is_public(scope):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        authenticator = scope["app"].state.services.authenticator
        key = await presented_key(connection)
        try:
            # A stored key may need a read from the store: off the event loop.
            tenant = await run_in_threadpool(authenticator.tenant, key)
        except DomainError as error:  # a 401; or the store failing, mapped as anywhere
            await error_response_for(Request(scope), error)(scope, receive, send)
            return
        scope.setdefault("state", {})[TENANT_STATE] = tenant
        await self.app(scope, receive, send)


def _is_public(scope: Scope) -> bool:
    """Whether the request goes to a route that takes no key (its path without the root
    path the app is mounted at, as Starlette's router sees it)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path in PUBLIC_PATHS
