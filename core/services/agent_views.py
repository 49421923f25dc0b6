"""An agent record as Letta's AgentState, with its blocks, tools and managed group."""

from __future__ import annotations

from typing import Any

from core.persistence.unit_of_work import UnitOfWork
from core.records import AgentRecord, BlockRecord, GroupRecord
from core.schemas.agents import AgentEnvironmentVariable, AgentState, Memory, Tool
from core.services.blocks import block_to_wire
from core.services.groups import group_to_wire
from core.tools.catalog import BUILTIN_TOOLS


def agent_to_wire(uow: UnitOfWork, record: AgentRecord) -> AgentState:
    """The AgentState of a record, with its blocks and managed group read through `uow`."""
    blocks = [block_to_wire(b) for b in uow.load_existing(BlockRecord, record.block_ids)]
    managed = uow.load_existing(GroupRecord, record.managed_group_ids[:1])
    managed_group = group_to_wire(managed[0]) if managed else None
    echoed = dict(record.echoed)
    secrets = [
        AgentEnvironmentVariable(key=k, value=v, agent_id=record.id)
        for k, v in (echoed.pop("secrets", None) or {}).items()
    ]
    # Stored fields are plain JSON (the agent type, llm_config, tool rules): validate them
    # into the wire model, exactly as the constructor would.
    return AgentState.model_validate(
        {
            "id": record.id,
            "name": record.name,
            "system": record.system,
            "agent_type": record.agent_type,
            "llm_config": record.llm_config,
            "model": record.model,
            "embedding": record.embedding,
            "description": record.description,
            "metadata": record.metadata,
            "memory": Memory(agent_type=record.agent_type, blocks=blocks),
            "blocks": blocks,
            "tools": [_tool(BUILTIN_TOOLS[name]) for name in record.tool_names],
            "tags": record.tags,
            "tool_rules": record.tool_rules,
            "message_ids": [],
            "secrets": secrets,
            "tool_exec_environment_variables": secrets,
            "multi_agent_group": managed_group,
            "managed_group": managed_group,
            "created_at": record.created_at,
            "updated_at": record.updated_at,
            **{k: v for k, v in echoed.items() if v is not None},
        }
    )


def _tool(tool: Any) -> Tool:
    return Tool(
        id=tool.id,
        name=tool.name,
        description=tool.description,
        tool_type=tool.tool_type,
        source_type="python",
        json_schema=tool.json_schema(),
        tags=[tool.tool_type],
    )
