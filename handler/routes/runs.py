"""/v1/runs routes: runs, the messages they produced, their usage, a live stream of them,
and deletion."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

import anyio
from fastapi import Depends, Query, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from core.lazy_model import LazyModel
from core.paging import PageRequest
from core.records import RUN_FINISHED
from core.runtime.rendering import RenderOptions, render
from core.schemas.agents import StopReasonType
from core.schemas.messages import LettaMessage
from core.schemas.runs import Run, RunStatusType, RunUsage
from core.schemas.steps import Step
from core.services.run_views import RunFilter
from handler.deps import RenderDep, RunIdPath, ServicesDep, TenantDep, page_params
from handler.routing import collection, lazy_router
from handler.sse import event_stream, frame

if TYPE_CHECKING:
    from sse_starlette import ServerSentEvent

router = lazy_router("/v1/runs", "runs")

NO_PINGS_S = 10**6
RunsPage = Annotated[PageRequest, Depends(page_params(100, "desc"))]


@collection(router, "GET", response_model=list[Run])
def list_runs(
    services: ServicesDep,
    tenant: TenantDep,
    page: RunsPage,
    agent_id: str | None = None,
    agent_ids: Annotated[list[str] | None, Query()] = None,
    statuses: Annotated[list[RunStatusType] | None, Query()] = None,
    stop_reason: StopReasonType | None = None,
    background: bool | None = None,
    active: bool = False,
    ascending: Annotated[bool | None, Query(description="Deprecated: use order.")] = None,
) -> list[Run]:
    """Runs of the caller, newest first by default, filtered where they are stored."""
    if ascending is not None:
        page = PageRequest(
            limit=page.limit,
            order="asc" if ascending else "desc",
            before=page.before,
            after=page.after,
        )
    wanted = tuple(statuses or ())
    if active:
        wanted = tuple(s for s in wanted if s in ("created", "running")) or ("created", "running")
    where = RunFilter(
        agent_ids=tuple(dict.fromkeys([*(agent_ids or []), *([agent_id] if agent_id else [])])),
        statuses=wanted,
        stop_reason=stop_reason,
        background=background,
    )
    return services.runs.list(tenant, page, where)


@router.get("/active", response_model=list[Run])
def list_active_runs(
    services: ServicesDep,
    tenant: TenantDep,
    agent_ids: Annotated[list[str] | None, Query()] = None,
    background: bool | None = None,
) -> list[Run]:
    where = RunFilter(
        agent_ids=tuple(agent_ids or ()), statuses=("created", "running"), background=background
    )
    return services.runs.list(tenant, PageRequest(limit=1000, order="desc"), where)


@router.get("/{run_id}", response_model=Run)
def retrieve_run(run_id: RunIdPath, services: ServicesDep, tenant: TenantDep) -> Run:
    return services.runs.get(tenant, run_id)


@router.delete("/{run_id}")
def delete_run(run_id: RunIdPath, services: ServicesDep, tenant: TenantDep) -> dict:
    services.runs.delete(tenant, run_id)
    return {"message": f"Run id={run_id} successfully deleted"}


@router.get("/{run_id}/messages", response_model=list[LettaMessage])
def list_run_messages(
    run_id: RunIdPath,
    services: ServicesDep,
    tenant: TenantDep,
    page: Annotated[PageRequest, Depends(page_params(100, "asc"))],
    options: RenderDep,
) -> list:
    return services.runs.list_messages(tenant, run_id, page, options)


@router.get("/{run_id}/steps", response_model=list[Step])
def list_run_steps(
    run_id: RunIdPath,
    services: ServicesDep,
    tenant: TenantDep,
    page: Annotated[PageRequest, Depends(page_params(100, "desc"))],
) -> list[Step]:
    """Each model call of the run's agents: its model, tokens, stop reason (when it ended
    its agent's turn) and the messages it made. Cursors are step ids."""
    return services.run_steps.list(tenant, run_id, page)


@router.get("/{run_id}/usage", response_model=RunUsage)
def retrieve_run_usage(run_id: RunIdPath, services: ServicesDep, tenant: TenantDep) -> RunUsage:
    return services.runs.usage(tenant, run_id)


class RetrieveStreamRequest(LazyModel):
    """Letta's RetrieveStreamRequest: where to start, and how to wait for more."""

    starting_after: int = Field(0, ge=0, description="A seq_id: stream what came after it.")
    include_pings: bool | None = False
    poll_interval: float | None = Field(0.1, gt=0, le=10)
    batch_size: int | None = Field(100, ge=1, le=1000)


@router.post("/{run_id}/stream")
async def retrieve_run_stream(
    run_id: RunIdPath,
    services: ServicesDep,
    tenant: TenantDep,
    body: RetrieveStreamRequest | None = None,
) -> Response:
    """The run's messages after `starting_after` as SSE, following the run live until it
    ends, then its stop reason, usage and [DONE]. An unknown run is an ordinary 404."""
    request = body or RetrieveStreamRequest()
    await run_in_threadpool(services.runs.get_record, tenant, run_id)
    # sse-starlette always pings; without include_pings the interval outlasts any run.
    ping_s = services.settings.sse_ping_s if request.include_pings else NO_PINGS_S

    async def frames() -> AsyncIterator[ServerSentEvent]:
        after = request.starting_after
        options = RenderOptions()
        while True:
            records, run = await run_in_threadpool(
                services.runs.messages_after, tenant, run_id, after, request.batch_size or 100
            )
            for record in records:
                for message in render([record], options):
                    yield frame(message.model_dump(mode="json"))
                after = record.seq
            if not records and run.status in RUN_FINISHED:
                reason = run.stop_reason if run.stop_reason else "error"
                yield frame({"message_type": "stop_reason", "stop_reason": reason})
                usage = services.runs.usage(tenant, run_id).model_dump(mode="json")
                yield frame({"message_type": "usage_statistics", **usage})
                yield frame("[DONE]")
                return
            if not records:
                await anyio.sleep(request.poll_interval or 0.1)

    return event_stream(frames(), ping_s=ping_s)
