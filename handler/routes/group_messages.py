"""/v1/groups/{group_id}/messages routes: send, stream, list, edit, reset."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Response
from pydantic import Field

from core.lazy_model import LazyModel
from core.paging import PageRequest
from core.schemas.content import TextContent
from core.schemas.messages import (
    LettaAsyncRequest,
    LettaMessage,
    LettaMessageBase,
    LettaRequest,
    LettaResponse,
    LettaStreamingRequest,
)
from core.schemas.runs import CancelRunsRequest, Run
from core.services.idempotency import key_for, resume_key
from core.services.run_views import RunFilter
from handler.deps import (
    GroupIdPath,
    IdempotencyKey,
    MessageIdPath,
    RenderDep,
    RetryAttempt,
    ServicesDep,
    TenantDep,
    page_params,
)
from handler.routing import lazy_router
from handler.sse import stream_send

router = lazy_router("/v1/groups", "groups")


@router.post("/{group_id}/messages", response_model=LettaResponse)
def send_group_message(
    group_id: GroupIdPath,
    body: LettaRequest,
    services: ServicesDep,
    tenant: TenantDep,
    attempt: RetryAttempt,
    idempotency_key: IdempotencyKey = None,
) -> LettaResponse:
    services.metrics.count("Sends", target="group", mode="sync")
    scope, key = f"group:{group_id}", key_for(idempotency_key, body)
    # The same key (or a retry) also resumes a send whose first attempt died.
    journal_key = resume_key(scope, key, attempt, body)
    return services.idempotency.run(
        tenant,
        scope,
        key,
        body,
        lambda: services.group_messages.send(tenant, group_id, body, key=journal_key),
        LettaResponse,
        attempt,
    )


@router.post("/{group_id}/messages/stream")
async def send_group_message_streaming(
    group_id: GroupIdPath,
    body: LettaStreamingRequest,
    services: ServicesDep,
    tenant: TenantDep,
    attempt: RetryAttempt,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Server-sent events: a frame per message as it is produced, then the stop reason, the
    usage and [DONE]. Errors before the first frame are ordinary HTTP errors. A retry with
    the same key streams the first attempt's messages instead of sending again."""
    services.metrics.count("Sends", target="group", mode="stream")
    scope, key = f"group-stream:{group_id}", key_for(idempotency_key, body)
    journal_key = resume_key(scope, key, attempt, body)
    return await stream_send(
        lambda emit: services.idempotency.run_stream(
            tenant,
            scope,
            key,
            body,
            lambda tracked: services.group_messages.send(
                tenant, group_id, body, emit=tracked, key=journal_key
            ),
            emit,
            attempt,
        ),
        ping_s=services.settings.sse_ping_s,
    )


@router.post("/{group_id}/messages/async", response_model=Run)
def send_group_message_async(
    group_id: GroupIdPath,
    body: LettaAsyncRequest,
    services: ServicesDep,
    tenant: TenantDep,
    attempt: RetryAttempt,
    idempotency_key: IdempotencyKey = None,
) -> Run:
    """Answers at once with the Run that does the send (checked as the synchronous send
    is: 404, 400, 409 busy, 422); its messages are those the send would have answered."""
    services.metrics.count("Sends", target="group", mode="async")
    return services.idempotency.run(
        tenant,
        f"group-async:{group_id}",
        key_for(idempotency_key, body),
        body,
        lambda: services.async_sends.group(tenant, group_id, body),
        Run,
        attempt,
    )


@router.post("/{group_id}/messages/cancel")
def cancel_group_run(
    group_id: GroupIdPath,
    services: ServicesDep,
    tenant: TenantDep,
    body: CancelRunsRequest | None = None,
) -> dict[str, str]:
    """Cancel the named runs of the group, or all it has not finished; each run's status
    afterwards. A run at work stops before its next turn, keeping what it produced."""
    services.groups.get(tenant, group_id)  # 404 for an unknown group
    run_ids = body.run_ids if body is not None else None
    return services.run_cancellation.cancel_for(tenant, RunFilter(group_id=group_id), run_ids)


@router.get("/{group_id}/messages", response_model=list[LettaMessage])
def list_group_messages(
    group_id: GroupIdPath,
    services: ServicesDep,
    tenant: TenantDep,
    page: Annotated[PageRequest, Depends(page_params(10, "desc"))],
    options: RenderDep,
) -> list[LettaMessage]:
    return services.group_messages.list(tenant, group_id, page, options)


class UpdateGroupMessage(LazyModel):
    """Letta's UpdateSystem/User/Reasoning/AssistantMessage bodies in one model: the text is
    `content` (string or text parts) or, for reasoning, `reasoning`."""

    message_type: (
        Literal["system_message", "user_message", "reasoning_message", "assistant_message"] | None
    ) = None
    content: str | list[TextContent] | None = None
    reasoning: str | None = Field(None, description="For reasoning_message edits.")

    def text(self) -> str | None:
        if self.reasoning is not None:
            return self.reasoning
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content)
        return self.content


@router.patch("/{group_id}/messages/{message_id}", response_model=LettaMessage)
def modify_group_message(
    group_id: GroupIdPath,
    message_id: MessageIdPath,
    body: UpdateGroupMessage,
    services: ServicesDep,
    tenant: TenantDep,
) -> LettaMessageBase:
    return services.message_edits.apply(
        tenant, group_id, message_id, body.message_type, body.text()
    )


@router.patch("/{group_id}/reset-messages")
def reset_group_messages(group_id: GroupIdPath, services: ServicesDep, tenant: TenantDep) -> None:
    services.group_messages.reset(tenant, group_id)
