"""`enable_sleeptime`: the sleeptime agent and group Letta gives a main agent, made with it
and deleted with it."""

from __future__ import annotations

from core import ids
from core.persistence.unit_of_work import UnitOfWork
from core.prompts import default_system_prompt
from core.records import AgentRecord, BlockRecord, GroupRecord
from core.services.links import attach_blocks, join_group, remove_all
from core.tools.catalog import BASE_TOOLS_BY_AGENT_TYPE


def add_sleeptime_agent(uow: UnitOfWork, main: AgentRecord, blocks: list[BlockRecord]) -> None:
    """As Letta does for `enable_sleeptime`: a sleeptime agent sharing the main agent's
    blocks, and a sleeptime group the main agent manages. Both belong to the main agent
    and are deleted with it."""
    sleeper_id = ids.new_id(ids.AGENT)
    sleeper = AgentRecord(
        id=sleeper_id,
        created_at=uow.now,
        name=f"{main.name}-sleeptime",
        system=default_system_prompt("sleeptime_agent"),
        agent_type="sleeptime_agent",
        model=main.model,
        llm_config=main.llm_config,
        tool_names=list(BASE_TOOLS_BY_AGENT_TYPE["sleeptime_agent"]),
    )
    group = GroupRecord(
        id=ids.new_id(ids.GROUP),
        created_at=uow.now,
        manager_type="sleeptime",
        agent_ids=[sleeper_id],
        description=f"Sleeptime memory management for {main.name}",
        manager_agent_id=main.id,
        turns_counter=0,
        owner_agent_id=main.id,
    )
    uow.add(sleeper)
    uow.add(group)
    attach_blocks(uow, sleeper, blocks)
    join_group(uow, sleeper, group)
    join_group(uow, main, group)


def delete_owned_group(uow: UnitOfWork, group: GroupRecord) -> None:
    """The sleeptime group `enable_sleeptime` made goes with its main agent, and so do
    its sleeptime agents (their blocks stay)."""
    for sleeper in uow.load_existing(AgentRecord, group.agent_ids):
        for block in uow.load_existing(BlockRecord, sleeper.block_ids):
            remove_all(block.agent_ids, [sleeper.id])
            uow.touch(block)
        uow.remove(sleeper)
    for block in uow.load_existing(BlockRecord, group.shared_block_ids):
        remove_all(block.group_ids, [group.id])
        uow.touch(block)
    manager = uow.load(AgentRecord, group.manager_agent_id or "")
    remove_all(manager.managed_group_ids, [group.id])
    uow.remove(group)
