"""`enable_sleeptime`: the sleeptime agent and group Letta gives a main agent, made with it
and deleted with it; and the blocks attached to the main agent later, which reach its
sleeptime agents too."""

from __future__ import annotations

from dataclasses import dataclass

from core import ids
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Store
from core.prompts import default_system_prompt
from core.records import AgentRecord, BlockRecord, GroupRecord
from core.schemas.groups import DEFAULT_MAX_BUFFER, DEFAULT_MIN_BUFFER, ManagerType
from core.services.links import attach_blocks, detach_blocks, join_group, remove_all
from core.tools.catalog import BASE_TOOLS_BY_AGENT_TYPE, base_tool_rules

DEFAULT_FREQUENCY = 5
"""Letta's sleeptime_agent_frequency for the group `enable_sleeptime` makes."""


@dataclass(frozen=True)
class SleeptimeKind:
    """What `enable_sleeptime` makes for one kind of main agent."""

    agent_type: str
    manager_type: ManagerType
    description: str


_SLEEPTIME = SleeptimeKind("sleeptime_agent", "sleeptime", "Sleeptime memory management for {}")
_VOICE = SleeptimeKind(
    "voice_sleeptime_agent",
    "voice_sleeptime",
    "Low latency voice chat with async memory management.",
)


def add_sleeptime_agent(uow: UnitOfWork, main: AgentRecord, blocks: list[BlockRecord]) -> None:
    """As Letta does for `enable_sleeptime`: a sleeptime agent sharing the main agent's
    blocks, with Letta's tools and tool rules, and a group the main agent manages (for a
    voice_convo_agent a voice_sleeptime_agent in a voice_sleeptime group with buffer
    bounds 30/15, else a sleeptime_agent in a sleeptime group running every 5th turn).
    Both belong to the main agent and are deleted with it."""
    kind = _VOICE if main.agent_type == "voice_convo_agent" else _SLEEPTIME
    tools = list(BASE_TOOLS_BY_AGENT_TYPE[kind.agent_type])
    sleeper = AgentRecord(
        id=ids.new_id(ids.AGENT),
        created_at=uow.now,
        name=f"{main.name}-sleeptime",
        system=default_system_prompt(kind.agent_type),
        agent_type=kind.agent_type,
        model=main.model,
        llm_config=main.llm_config,
        tool_names=tools,
        tool_rules=base_tool_rules(kind.agent_type, tools),
    )
    group = GroupRecord(
        id=ids.new_id(ids.GROUP),
        created_at=uow.now,
        manager_type=kind.manager_type,
        agent_ids=[sleeper.id],
        description=kind.description.format(main.name),
        manager_agent_id=main.id,
        turns_counter=0,
        owner_agent_id=main.id,
    )
    if kind is _VOICE:
        group.max_message_buffer_length = DEFAULT_MAX_BUFFER
        group.min_message_buffer_length = DEFAULT_MIN_BUFFER
    else:
        group.sleeptime_agent_frequency = DEFAULT_FREQUENCY
    uow.add(sleeper)
    uow.add(group)
    attach_blocks(uow, sleeper, blocks)
    join_group(uow, sleeper, group)
    join_group(uow, main, group)


ROUTED_MANAGER_TYPES = ("sleeptime", "voice_sleeptime")


def sleeptime_group_of(store: Store, tenant: str, main: AgentRecord) -> str | None:
    """The group `enable_sleeptime` made for this agent, which a send to the agent goes
    through (None for an agent without one; reads nothing then)."""
    if not main.managed_group_ids:
        return None
    groups = store.get_many(tenant, GroupRecord, main.managed_group_ids)
    for group_id in main.managed_group_ids:
        group = groups.get(group_id)
        if (
            group is not None
            and group.owner_agent_id == main.id
            and group.manager_type in ROUTED_MANAGER_TYPES
        ):
            return group.id
    return None


def sleeptime_agents_of(uow: UnitOfWork, main: AgentRecord) -> list[AgentRecord]:
    """The sleeptime agents of the sleeptime groups the agent manages (Letta pairs a main
    agent's blocks with these, and only these, members)."""
    groups = uow.load_existing(GroupRecord, main.managed_group_ids)
    members = [a for g in groups if g.manager_type == "sleeptime" for a in g.agent_ids]
    return [
        agent
        for agent in uow.load_existing(AgentRecord, list(dict.fromkeys(members)))
        if agent.agent_type == "sleeptime_agent"
    ]


def attach_to_sleeptime_agents(
    uow: UnitOfWork, main: AgentRecord, blocks: list[BlockRecord]
) -> None:
    """Blocks the main agent gains reach its sleeptime agents (a label a sleeptime agent
    already holds in another block is left to it)."""
    for sleeper in sleeptime_agents_of(uow, main):
        held = {b.label for b in uow.load_existing(BlockRecord, sleeper.block_ids)}
        attach_blocks(uow, sleeper, [b for b in blocks if b.label not in held])


def detach_from_sleeptime_agents(
    uow: UnitOfWork, main: AgentRecord, blocks: list[BlockRecord]
) -> None:
    """Blocks the main agent loses leave its sleeptime agents too."""
    for sleeper in sleeptime_agents_of(uow, main):
        detach_blocks(uow, sleeper, blocks)


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
