"""Both-sided relationship edits (agent<->block, agent<->group, group<->block).

Every use-case that links or unlinks records goes through these, so the two sides of a
relationship can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.errors import BadRequestError
from core.persistence.unit_of_work import UnitOfWork
from core.records import AgentRecord, BlockRecord, GroupRecord


def attach_blocks(uow: UnitOfWork, agent: AgentRecord, blocks: list[BlockRecord]) -> None:
    """Give the agent these blocks; a second block with a label it already has is a 400."""
    labels = {b.label: b.id for b in uow.load_existing(BlockRecord, agent.block_ids)}
    for block in blocks:
        if block.id in agent.block_ids:
            continue
        holder = labels.get(block.label)
        if holder is not None and holder != block.id:
            raise BadRequestError(
                f"Agent {agent.id} already has a block labelled {block.label!r} ({holder})."
            )
        agent.block_ids.append(block.id)
        labels[block.label] = block.id
        add_unique(block.agent_ids, [agent.id])
        uow.touch(block)
        uow.touch(agent)


def detach_blocks(uow: UnitOfWork, agent: AgentRecord, blocks: list[BlockRecord]) -> None:
    for block in blocks:
        if remove_all(agent.block_ids, [block.id]):
            uow.touch(agent)
        if remove_all(block.agent_ids, [agent.id]):
            uow.touch(block)


def join_group(uow: UnitOfWork, agent: AgentRecord, group: GroupRecord) -> None:
    """Record on the agent that it belongs to (or manages) the group, and hand it the
    group's shared blocks."""
    if agent.id in group.agent_ids and add_unique(agent.group_ids, [group.id]):
        uow.touch(agent)
    if agent.id == group.manager_agent_id and add_unique(agent.managed_group_ids, [group.id]):
        uow.touch(agent)
    attach_blocks(uow, agent, uow.load_many(BlockRecord, group.shared_block_ids))


def leave_group(uow: UnitOfWork, agent: AgentRecord, group: GroupRecord) -> None:
    """Forget the membership and management links; blocks the agent holds are kept."""
    if agent.id not in group.agent_ids and remove_all(agent.group_ids, [group.id]):
        uow.touch(agent)
    if agent.id != group.manager_agent_id and remove_all(agent.managed_group_ids, [group.id]):
        uow.touch(agent)


def share_block(uow: UnitOfWork, group: GroupRecord, block: BlockRecord) -> None:
    """Attach a block to the group and every agent in it (members and manager)."""
    add_unique(group.shared_block_ids, [block.id])
    add_unique(block.group_ids, [group.id])
    uow.touch(group)
    uow.touch(block)
    for agent in uow.load_existing(AgentRecord, group.agent_ids_with_manager()):
        attach_blocks(uow, agent, [block])


def unshare_block(uow: UnitOfWork, group: GroupRecord, block: BlockRecord) -> None:
    """Detach a block from the group and from every agent in it."""
    remove_all(group.shared_block_ids, [block.id])
    remove_all(block.group_ids, [group.id])
    uow.touch(group)
    uow.touch(block)
    for agent in uow.load_existing(AgentRecord, group.agent_ids_with_manager()):
        detach_blocks(uow, agent, [block])


def add_unique(values: list[str], new: Iterable[str]) -> bool:
    """Append the new values not yet present; True when anything was added."""
    added = False
    for value in new:
        if value not in values:
            values.append(value)
            added = True
    return added


def remove_all(values: list[str], gone: Iterable[str]) -> bool:
    """Remove every occurrence of the given values; True when anything was removed."""
    gone_set = set(gone)
    kept = [v for v in values if v not in gone_set]
    removed = len(kept) != len(values)
    values[:] = kept
    return removed
