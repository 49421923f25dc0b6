"""Wire models of memory blocks (Letta's CreateBlock, BlockUpdate, Block/BlockResponse)."""

from typing import Any

from pydantic import Field, model_validator

from core.lazy_model import LazyModel

DEFAULT_BLOCK_LIMIT = 20000


class BlockBody(LazyModel):
    """Fields a block carries on the wire besides its id and its value."""

    limit: int = DEFAULT_BLOCK_LIMIT
    project_id: str | None = None
    template_name: str | None = None
    is_template: bool = False
    template_id: str | None = None
    base_template_id: str | None = None
    deployment_id: str | None = None
    entity_id: str | None = None
    preserve_on_migration: bool | None = False
    label: str | None = None
    read_only: bool = False
    description: str | None = None
    metadata: dict[str, Any] | None = Field(default_factory=dict)
    hidden: bool | None = None
    tags: list[str] | None = Field(default_factory=list)


def check_within_limit(value: str, limit: int) -> None:
    """Raise ValueError (a 422 at the edge) when a value does not fit the block's limit."""
    if len(value) > limit:
        raise ValueError(
            f"value is {len(value)} characters long, above the block's limit of {limit}"
        )


class CreateBlock(BlockBody):
    """POST /v1/blocks/ and `memory_blocks` items of agent create."""

    value: str
    label: str = Field(min_length=1)
    limit: int = Field(DEFAULT_BLOCK_LIMIT, ge=1)
    tags: list[str] | None = None

    @model_validator(mode="after")
    def _fits(self) -> "CreateBlock":
        check_within_limit(self.value, self.limit)
        return self


class BlockUpdate(LazyModel):
    """PATCH /v1/blocks/{id}: only the fields the caller sent are applied (null included)."""

    value: str | None = None
    limit: int | None = Field(None, ge=1)
    project_id: str | None = None
    template_name: str | None = None
    is_template: bool | None = None
    template_id: str | None = None
    base_template_id: str | None = None
    deployment_id: str | None = None
    entity_id: str | None = None
    preserve_on_migration: bool | None = None
    label: str | None = Field(None, min_length=1)
    read_only: bool | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    hidden: bool | None = None
    tags: list[str] | None = None


class Block(BlockBody):
    """A block as responses show it (Letta's Block and BlockResponse)."""

    id: str
    value: str
    created_by_id: str | None = None
    last_updated_by_id: str | None = None
