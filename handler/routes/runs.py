"""/v1/runs routes: a run's status and the messages it produced."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from core.paging import PageRequest
from core.schemas.messages import LettaMessage
from core.schemas.runs import Run
from handler.deps import RenderDep, RunIdPath, ServicesDep, TenantDep, page_params

router = APIRouter(prefix="/v1/runs", tags=["runs"])


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
