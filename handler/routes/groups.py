"""/v1/groups routes (the message routes arrive with the group-send work)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from core.paging import PageRequest
from core.schemas.groups import Group, GroupCreate, GroupUpdate, ManagerType
from core.services.groups import GroupFilter
from handler.deps import BlockIdPath, GroupIdPath, ServicesDep, TenantDep, page_params
from handler.routing import collection, lazy_router

router = lazy_router("/v1/groups", "groups")


@collection(router, "POST", response_model=Group)
def create_group(body: GroupCreate, services: ServicesDep, tenant: TenantDep) -> Group:
    return services.groups.create(tenant, body)


@collection(router, "GET", response_model=list[Group])
def list_groups(
    services: ServicesDep,
    tenant: TenantDep,
    page: Annotated[PageRequest, Depends(page_params(50, "asc"))],
    manager_type: ManagerType | None = None,
    project_id: str | None = None,
) -> list[Group]:
    where = GroupFilter(manager_type=manager_type, project_id=project_id)
    return services.groups.list(tenant, page, where)


@router.get("/count", response_model=int)
def count_groups(services: ServicesDep, tenant: TenantDep) -> int:
    return services.groups.count(tenant)


@router.get("/{group_id}", response_model=Group)
def retrieve_group(group_id: GroupIdPath, services: ServicesDep, tenant: TenantDep) -> Group:
    return services.groups.get(tenant, group_id)


@router.patch("/{group_id}", response_model=Group)
def modify_group(
    group_id: GroupIdPath, body: GroupUpdate, services: ServicesDep, tenant: TenantDep
) -> Group:
    return services.groups.update(tenant, group_id, body)


@router.delete("/{group_id}")
def delete_group(group_id: GroupIdPath, services: ServicesDep, tenant: TenantDep) -> dict:
    services.groups.delete(tenant, group_id)
    return {"message": f"Group id={group_id} successfully deleted"}


@router.patch("/{group_id}/blocks/attach/{block_id}")
def attach_block_to_group(
    group_id: GroupIdPath, block_id: BlockIdPath, services: ServicesDep, tenant: TenantDep
) -> None:
    services.groups.attach_block(tenant, group_id, block_id)


@router.patch("/{group_id}/blocks/detach/{block_id}")
def detach_block_from_group(
    group_id: GroupIdPath, block_id: BlockIdPath, services: ServicesDep, tenant: TenantDep
) -> None:
    services.groups.detach_block(tenant, group_id, block_id)
