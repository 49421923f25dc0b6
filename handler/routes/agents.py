"""/v1/agents routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Response
from starlette.concurrency import run_in_threadpool

from core.paging import MAX_PAGE_SIZE, PageRequest
from core.schemas.agents import AgentState, CreateAgentRequest, StopReasonType, UpdateAgent
from core.schemas.blocks import Block, BlockUpdate
from core.schemas.groups import Group
from core.schemas.messages import (
    LettaAsyncRequest,
    LettaMessage,
    LettaResponse,
    LettaStreamingRequest,
)
from core.schemas.runs import CancelRunsRequest, Run
from core.services.agents import AgentFilter
from core.services.idempotency import key_for
from core.services.run_views import RunFilter
from handler.composition import Services
from handler.deps import (
    AgentIdPath,
    BlockIdPath,
    IdempotencyKey,
    RenderDep,
    RetryAttempt,
    ServicesDep,
    TenantDep,
    page_params,
)
from handler.routing import collection, lazy_router
from handler.sse import stream_send

router = lazy_router("/v1/agents", "agents")


@collection(router, "POST", response_model=AgentState)
def create_agent(body: CreateAgentRequest, services: ServicesDep, tenant: TenantDep) -> AgentState:
    return services.agents.create(tenant, body)


@collection(router, "GET", response_model=list[AgentState])
def list_agents(
    services: ServicesDep,
    tenant: TenantDep,
    page: Annotated[PageRequest, Depends(page_params(50, "desc"))],
    name: str | None = None,
    tags: Annotated[list[str] | None, Query()] = None,
    match_all_tags: bool = False,
    query_text: str | None = None,
    project_id: str | None = None,
    template_id: str | None = None,
    base_template_id: str | None = None,
    identity_id: str | None = None,
    last_stop_reason: StopReasonType | None = None,
) -> list[AgentState]:
    where = AgentFilter(
        name=name,
        tags=tuple(tags or ()),
        match_all_tags=match_all_tags,
        query_text=query_text,
        project_id=project_id,
        template_id=template_id,
        base_template_id=base_template_id,
        identity_id=identity_id,
        last_stop_reason=last_stop_reason,
    )
    return services.agents.list(tenant, page, where)


@router.get("/{agent_id}", response_model=AgentState)
def retrieve_agent(agent_id: AgentIdPath, services: ServicesDep, tenant: TenantDep) -> AgentState:
    return services.agents.get(tenant, agent_id)


@router.patch("/{agent_id}", response_model=AgentState)
def modify_agent(
    agent_id: AgentIdPath, body: UpdateAgent, services: ServicesDep, tenant: TenantDep
) -> AgentState:
    return services.agents.update(tenant, agent_id, body)


@router.delete("/{agent_id}")
def delete_agent(agent_id: AgentIdPath, services: ServicesDep, tenant: TenantDep) -> dict:
    services.agents.delete(tenant, agent_id)
    return {"message": f"Agent id={agent_id} successfully deleted"}


@router.patch("/{agent_id}/core-memory/blocks/attach/{block_id}", response_model=AgentState)
def attach_core_memory_block(
    agent_id: AgentIdPath, block_id: BlockIdPath, services: ServicesDep, tenant: TenantDep
) -> AgentState:
    return services.agents.attach_block(tenant, agent_id, block_id)


@router.get("/{agent_id}/core-memory/blocks", response_model=list[Block])
def list_core_memory_blocks(
    agent_id: AgentIdPath,
    services: ServicesDep,
    tenant: TenantDep,
    page: Annotated[PageRequest, Depends(page_params(MAX_PAGE_SIZE, "asc"))],
) -> list[Block]:
    return services.core_memory.blocks_of(tenant, agent_id, page)


@router.get("/{agent_id}/core-memory/blocks/{block_label}", response_model=Block)
def retrieve_core_memory_block(
    agent_id: AgentIdPath, block_label: str, services: ServicesDep, tenant: TenantDep
) -> Block:
    return services.core_memory.block_of(tenant, agent_id, block_label)


@router.patch("/{agent_id}/core-memory/blocks/{block_label}", response_model=Block)
def modify_core_memory_block(
    agent_id: AgentIdPath,
    block_label: str,
    body: BlockUpdate,
    services: ServicesDep,
    tenant: TenantDep,
) -> Block:
    """Change the agent's block with that label, as PATCH /v1/blocks/{block_id} would."""
    return services.blocks.update_held(tenant, agent_id, block_label, body)


@router.patch("/{agent_id}/core-memory/blocks/detach/{block_id}", response_model=AgentState)
def detach_core_memory_block(
    agent_id: AgentIdPath, block_id: BlockIdPath, services: ServicesDep, tenant: TenantDep
) -> AgentState:
    return services.agents.detach_block(tenant, agent_id, block_id)


@router.get("/{agent_id}/groups", response_model=list[Group])
def list_groups_for_agent(
    agent_id: AgentIdPath,
    services: ServicesDep,
    tenant: TenantDep,
    page: Annotated[PageRequest, Depends(page_params(100, "desc"))],
    manager_type: str | None = None,
) -> list[Group]:
    return services.agents.list_groups(tenant, agent_id, page, manager_type)


@router.post("/{agent_id}/messages", response_model=LettaResponse)
async def send_message(
    agent_id: AgentIdPath,
    body: LettaStreamingRequest,
    services: ServicesDep,
    tenant: TenantDep,
    attempt: RetryAttempt,
    idempotency_key: IdempotencyKey = None,
) -> LettaResponse | Response:
    """With `streaming: true` the answer is the same SSE stream as /messages/stream.

    Async so the stream can start on the event loop; the plain send is blocking code and
    runs in the thread pool, as it would in a sync route."""
    services.metrics.count("Sends", target="agent", mode="stream" if body.streaming else "sync")
    if body.streaming:
        return await _stream(services, tenant, agent_id, body, attempt, idempotency_key)
    return await run_in_threadpool(
        services.idempotency.run,
        tenant,
        f"agent:{agent_id}",
        key_for(idempotency_key, body),
        body,
        lambda: services.agent_messages.send(tenant, agent_id, body),
        LettaResponse,
        attempt,
    )


@router.post("/{agent_id}/messages/stream")
async def create_agent_message_stream(
    agent_id: AgentIdPath,
    body: LettaStreamingRequest,
    services: ServicesDep,
    tenant: TenantDep,
    attempt: RetryAttempt,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    services.metrics.count("Sends", target="agent", mode="stream")
    return await _stream(services, tenant, agent_id, body, attempt, idempotency_key)


async def _stream(
    services: Services,
    tenant: str,
    agent_id: str,
    body: LettaStreamingRequest,
    attempt: int | None,
    idempotency_key: str | None,
) -> Response:
    """The agent's send as SSE; a retry with the same key streams the first attempt's
    messages instead of sending again."""
    return await stream_send(
        lambda emit: services.idempotency.run_stream(
            tenant,
            f"agent-stream:{agent_id}",
            key_for(idempotency_key, body),
            body,
            lambda tracked: services.agent_messages.send(tenant, agent_id, body, tracked),
            emit,
            attempt,
        ),
        ping_s=services.settings.sse_ping_s,
    )


@router.post("/{agent_id}/messages/async", response_model=Run)
def create_agent_message_async(
    agent_id: AgentIdPath,
    body: LettaAsyncRequest,
    services: ServicesDep,
    tenant: TenantDep,
    attempt: RetryAttempt,
    idempotency_key: IdempotencyKey = None,
) -> Run:
    """Answers at once with the Run that does the send; read it at /v1/runs/{run_id}. A
    retry (same Idempotency-Key, or the same otids) gets the same Run, not a second one."""
    services.metrics.count("Sends", target="agent", mode="async")
    return services.idempotency.run(
        tenant,
        f"agent-async:{agent_id}",
        key_for(idempotency_key, body),
        body,
        lambda: services.async_sends.agent(tenant, agent_id, body),
        Run,
        attempt,
    )


@router.post("/{agent_id}/messages/cancel")
def cancel_agent_run(
    agent_id: AgentIdPath,
    services: ServicesDep,
    tenant: TenantDep,
    body: CancelRunsRequest | None = None,
) -> dict[str, str]:
    """Cancel the named runs of the agent, or all it has not finished; each run's status
    afterwards. A run at work stops between its steps, keeping what it produced."""
    services.agents.get(tenant, agent_id)  # 404 for an unknown agent
    run_ids = body.run_ids if body is not None else None
    return services.run_cancellation.cancel_for(tenant, RunFilter(agent_ids=(agent_id,)), run_ids)


@router.get("/{agent_id}/messages", response_model=list[LettaMessage])
def list_messages(
    agent_id: AgentIdPath,
    services: ServicesDep,
    tenant: TenantDep,
    page: Annotated[PageRequest, Depends(page_params(100, "desc"))],
    options: RenderDep,
    group_id: Annotated[
        str | None,
        Query(description="Only the conversation of this group (the agent a member)."),
    ] = None,
) -> list:
    if group_id is not None:
        services.agents.get(tenant, agent_id)  # 404 for an unknown agent
        return services.group_messages.member_view(tenant, agent_id, group_id, page, options)
    return services.agent_messages.list(tenant, agent_id, page, options)
