"""What the store keeps: one record type per resource, versioned for optimistic writes.

Relationships are kept on both sides (an agent lists its groups, a block lists its agents),
so every change that touches several records is one atomic multi-record write and a read
never needs a secondary lookup.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from core.schemas.blocks import BlockBody


class Record(BaseModel):
    """Common envelope: id, timestamps and the version optimistic writes compare."""

    KIND: ClassVar[str]

    id: str
    created_at: datetime
    updated_at: datetime | None = None
    version: int = 1


class BlockRecord(Record, BlockBody):
    KIND: ClassVar[str] = "block"

    value: str
    agent_ids: list[str] = Field(default_factory=list)
    group_ids: list[str] = Field(default_factory=list)


class AgentRecord(Record):
    """An agent's own settings; blocks and groups are referenced by id."""

    KIND: ClassVar[str] = "agent"

    name: str
    system: str
    agent_type: str
    model: str
    llm_config: dict[str, Any]
    embedding: str | None = None
    embedding_config: dict[str, Any] | None = None
    block_ids: list[str] = Field(default_factory=list)
    tool_names: list[str] = Field(default_factory=list)
    tool_rules: list[dict[str, Any]] | None = None
    tags: list[str] = Field(default_factory=list)
    description: str | None = None
    metadata: dict[str, Any] | None = None
    group_ids: list[str] = Field(default_factory=list)
    managed_group_ids: list[str] = Field(default_factory=list)
    # Fields stored only to be echoed back: they change nothing in this service yet.
    echoed: dict[str, Any] = Field(default_factory=dict)


class GroupRecord(Record):
    KIND: ClassVar[str] = "group"

    manager_type: str
    agent_ids: list[str]
    description: str
    project_id: str | None = None
    template_id: str | None = None
    base_template_id: str | None = None
    deployment_id: str | None = None
    shared_block_ids: list[str] = Field(default_factory=list)
    manager_agent_id: str | None = None
    termination_token: str | None = None
    max_turns: int | None = None
    sleeptime_agent_frequency: int | None = None
    turns_counter: int | None = None
    last_processed_message_id: str | None = None
    max_message_buffer_length: int | None = None
    min_message_buffer_length: int | None = None
    hidden: bool | None = None

    def agent_ids_with_manager(self) -> list[str]:
        """Members in speaking order, then the manager if it is not one of them."""
        ids = list(self.agent_ids)
        if self.manager_agent_id and self.manager_agent_id not in ids:
            ids.append(self.manager_agent_id)
        return ids
