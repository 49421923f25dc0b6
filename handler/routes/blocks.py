"""/v1/blocks routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from core.paging import MAX_PAGE_SIZE, PageRequest
from core.schemas.agents import AgentState
from core.schemas.blocks import Block, BlockUpdate, CreateBlock
from core.services.blocks import BlockFilter
from handler.deps import BlockIdPath, ServicesDep, TenantDep, page_params
from handler.routing import collection, lazy_router

router = lazy_router("/v1/blocks", "blocks")


@collection(router, "POST", response_model=Block)
def create_block(body: CreateBlock, services: ServicesDep, tenant: TenantDep) -> Block:
    return services.blocks.create(tenant, body)


@collection(router, "GET", response_model=list[Block])
def list_blocks(
    services: ServicesDep,
    tenant: TenantDep,
    page: Annotated[PageRequest, Depends(page_params(50, "asc"))],
    label: str | None = None,
    templates_only: bool = False,
    name: str | None = None,
    project_id: str | None = None,
    tags: Annotated[list[str] | None, Query()] = None,
    match_all_tags: bool = False,
    label_search: str | None = None,
    value_search: str | None = None,
    description_search: str | None = None,
) -> list[Block]:
    where = BlockFilter(
        label=label,
        templates_only=templates_only,
        name=name,
        project_id=project_id,
        tags=tuple(tags or ()),
        match_all_tags=match_all_tags,
        label_search=label_search,
        value_search=value_search,
        description_search=description_search,
    )
    return services.blocks.list(tenant, page, where)


@router.get("/{block_id}", response_model=Block)
def retrieve_block(block_id: BlockIdPath, services: ServicesDep, tenant: TenantDep) -> Block:
    return services.blocks.get(tenant, block_id)


@router.get("/{block_id}/agents", response_model=list[AgentState])
def list_agents_for_block(
    block_id: BlockIdPath,
    services: ServicesDep,
    tenant: TenantDep,
    page: Annotated[PageRequest, Depends(page_params(MAX_PAGE_SIZE, "asc"))],
    include_relationships: Annotated[list[str] | None, Query()] = None,
    include: Annotated[list[str] | None, Query()] = None,
) -> list[AgentState]:
    """Letta's `include_relationships` and `include` only trim what it joins; every
    AgentState here carries its blocks, tools and group, so they are accepted and ignored."""
    del include_relationships, include
    return services.core_memory.agents_of(tenant, block_id, page)


@router.patch("/{block_id}", response_model=Block)
def modify_block(
    block_id: BlockIdPath, body: BlockUpdate, services: ServicesDep, tenant: TenantDep
) -> Block:
    return services.blocks.update(tenant, block_id, body)


@router.delete("/{block_id}")
def delete_block(block_id: BlockIdPath, services: ServicesDep, tenant: TenantDep) -> dict:
    services.blocks.delete(tenant, block_id)
    return {"message": f"Block id={block_id} successfully deleted"}
