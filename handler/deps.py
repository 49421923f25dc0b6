"""FastAPI dependencies shared by the routers: services, tenant, ids, pagination."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Header, Path, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool

from core import ids
from core.paging import MAX_PAGE_SIZE, PageRequest
from core.runtime.rendering import RenderOptions
from handler.auth import TENANT_STATE, api_key_scheme, bearer_scheme
from handler.composition import Services


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_tenant(
    request: Request,
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    api_key: Annotated[str | None, Security(api_key_scheme)],
) -> str:
    """The caller's tenant. handler.auth.AuthenticateFirst found it before the body was
    read; the security parameters list the schemes in the OpenAPI document (and answer
    alone where that middleware is not installed)."""
    tenant = getattr(request.state, TENANT_STATE, None)
    if tenant is not None:
        return str(tenant)
    key = bearer.credentials if bearer else api_key
    return services.authenticator.tenant(key)


TenantDep = Annotated[str, Depends(get_tenant)]


def _id_path(prefix: str, description: str) -> object:
    return Path(
        pattern=ids.id_pattern(prefix),
        description=f"The ID of the {description} in the format '{prefix}-<uuid4>'",
    )


AgentIdPath = Annotated[str, _id_path(ids.AGENT, "agent")]
BlockIdPath = Annotated[str, _id_path(ids.BLOCK, "block")]
GroupIdPath = Annotated[str, _id_path(ids.GROUP, "group")]
MessageIdPath = Annotated[str, _id_path(ids.MESSAGE, "message")]
RunIdPath = Annotated[str, _id_path(ids.RUN, "run")]


def page_params(default_limit: int, default_order: Literal["asc", "desc"]):  # noqa: ANN201
    """A dependency reading Letta's cursor parameters with this route's defaults."""

    def read(
        before: Annotated[str | None, Query(description="Cursor: items before this id.")] = None,
        after: Annotated[str | None, Query(description="Cursor: items after this id.")] = None,
        limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE)] = default_limit,
        order: Annotated[Literal["asc", "desc"], Query()] = default_order,
        order_by: Annotated[Literal["created_at"], Query()] = "created_at",
    ) -> PageRequest:
        return PageRequest(limit=limit or default_limit, order=order, before=before, after=after)

    return read


def render_params(
    use_assistant_message: bool = True,
    assistant_message_tool_name: str = "send_message",
    assistant_message_tool_kwarg: str = "message",
) -> RenderOptions:
    """The query parameters every message listing takes, as render options."""
    return RenderOptions(
        use_assistant_message=use_assistant_message,
        assistant_message_tool_name=assistant_message_tool_name,
        assistant_message_tool_kwarg=assistant_message_tool_kwarg,
    )


RenderDep = Annotated[RenderOptions, Depends(render_params)]


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Makes a retried send return the first one's response instead of "
        "running again (messages that all carry an otid work the same way).",
    ),
]


def retry_attempt(
    count: Annotated[str | None, Header(alias="x-stainless-retry-count")] = None,
) -> int | None:
    """Which attempt of a request this is, as letta-client (Stainless) numbers them: 0 the
    first, 1 or more a retry (core.services.idempotency joins those to their first). None
    when the client does not say, or says something that is not a count."""
    if count is None or not count.strip().isdigit():
        return None
    return int(count)


RetryAttempt = Annotated[int | None, Depends(retry_attempt)]


async def authenticate(request: Request) -> str:
    """The caller's tenant from the headers alone, for checks that run before routing
    (handler.request_limits; handler.auth.AuthenticateFirst has usually found it already)."""
    bearer = await bearer_scheme(request)
    api_key = await api_key_scheme(request)
    services = get_services(request)
    return await run_in_threadpool(get_tenant, request, services, bearer, api_key)
