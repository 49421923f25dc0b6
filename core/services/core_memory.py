"""Reads across the agent-block link: an agent's core memory blocks (all, or one by label)
and the agents holding a block, as Letta's core-memory and block routes answer them."""

from __future__ import annotations

from core.errors import NotFoundError
from core.paging import PageRequest, paginate
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store
from core.records import AgentRecord, BlockRecord, GroupRecord
from core.schemas.agents import AgentState
from core.schemas.blocks import Block
from core.services.agent_views import agent_to_wire
from core.services.blocks import block_to_wire


class CoreMemoryReads:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def blocks_of(self, tenant: str, agent_id: str, page: PageRequest) -> list[Block]:
        """A page of the agent's blocks, in the order it holds them (404 for an unknown
        agent). Letta 0.11.7 answers them all; the SDK pages with `after`, so cursors hold."""
        uow = UnitOfWork(self._store, tenant, self._clock)
        agent = uow.load(AgentRecord, agent_id)
        blocks = uow.load_existing(BlockRecord, agent.block_ids)
        return [block_to_wire(b) for b in paginate(blocks, page, lambda b: b.id)]

    def block_of(self, tenant: str, agent_id: str, label: str) -> Block:
        """The agent's block with that label; an agent holds at most one per label."""
        uow = UnitOfWork(self._store, tenant, self._clock)
        agent = uow.load(AgentRecord, agent_id)
        for block in uow.load_existing(BlockRecord, agent.block_ids):
            if block.label == label:
                return block_to_wire(block)
        raise NotFoundError(f"Block with label {label!r} not found on agent {agent_id}")

    def agents_of(self, tenant: str, block_id: str, page: PageRequest) -> list[AgentState]:
        """A page of the agents holding the block, in the order they attached it (404 for
        an unknown block). Their blocks and managed groups are read in one batch each."""
        uow = UnitOfWork(self._store, tenant, self._clock)
        block = uow.load(BlockRecord, block_id)
        holders = uow.load_existing(AgentRecord, block.agent_ids)
        agents = paginate(holders, page, lambda a: a.id)
        uow.load_existing(BlockRecord, [b for a in agents for b in a.block_ids])
        uow.load_existing(GroupRecord, [g for a in agents for g in a.managed_group_ids[:1]])
        return [agent_to_wire(uow, a) for a in agents]
