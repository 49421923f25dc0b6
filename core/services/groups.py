"""Group use-cases: create, read, list, count, modify, delete, share and unshare blocks."""

from __future__ import annotations

from dataclasses import dataclass

from core import ids
from core.errors import BadRequestError, InvalidInputError, some
from core.filters import Equals, Filter
from core.groups.busy import ensure_idle
from core.groups.registry import pattern_for
from core.paging import PageRequest
from core.persistence.retry import retry_on_conflict
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store, StoreLimits
from core.records import AgentRecord, BlockRecord, GroupRecord
from core.schemas.groups import Group, GroupCreate, GroupUpdate, parse_manager_update
from core.services.links import join_group, leave_group, share_block, unshare_block


def max_members(limits: StoreLimits) -> int:
    """Most members a group may have: half of what one atomic write may change (50 on
    DynamoDB), so creating a group (it and each member) and the usual membership changes
    (the group, members joining and leaving, the manager, shared blocks) stay one write;
    a larger change is refused whole by the store (TooManyChangesError)."""
    return limits.max_changes_per_write // 2


@dataclass(frozen=True)
class GroupFilter:
    """The list routes' query filters, turned into store filters (`filters`)."""

    manager_type: str | None = None
    project_id: str | None = None

    def filters(self) -> tuple[Filter, ...]:
        """Every filter asked for; all must hold (an unset one is left out)."""
        return tuple(
            Equals(field, value)
            for field, value in (
                ("manager_type", self.manager_type),
                ("project_id", self.project_id),
            )
            if value is not None
        )


def group_to_wire(record: GroupRecord) -> Group:
    return Group.model_validate(record.model_dump(include=set(Group.model_fields)))


class GroupService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def create(self, tenant: str, req: GroupCreate) -> Group:
        manager = req.manager_config.model_dump()
        record = GroupRecord(
            id=ids.new_id(ids.GROUP),
            created_at=self._clock.now(),
            agent_ids=list(req.agent_ids),
            description=req.description,
            project_id=req.project_id,
            shared_block_ids=list(dict.fromkeys(req.shared_block_ids)),
            hidden=req.hidden,
            **manager,
        )
        _check_shape(record, max_members(self._store.limits))
        uow = UnitOfWork(self._store, tenant, self._clock)
        uow.add(record)
        blocks = uow.load_many(BlockRecord, record.shared_block_ids)
        for block in blocks:
            block.group_ids.append(record.id)
            uow.touch(block)
        agents = uow.load_many(AgentRecord, record.agent_ids_with_manager())
        _check_members(record, agents)
        for agent in agents:
            join_group(uow, agent, record)
        uow.commit()
        return group_to_wire(record)

    def get(self, tenant: str, group_id: str) -> Group:
        record = UnitOfWork(self._store, tenant, self._clock).load(GroupRecord, group_id)
        return group_to_wire(record)

    def list(self, tenant: str, page: PageRequest, where: GroupFilter) -> list[Group]:
        records = self._store.list(tenant, GroupRecord, page, where.filters())
        return [group_to_wire(g) for g in records]

    def count(self, tenant: str) -> int:
        return self._store.count(tenant, GroupRecord)

    @retry_on_conflict("the group")
    def update(self, tenant: str, group_id: str, req: GroupUpdate) -> Group:
        uow = UnitOfWork(self._store, tenant, self._clock)
        record = uow.load(GroupRecord, group_id)
        before = record.agent_ids_with_manager()
        sent = req.model_fields_set
        if "agent_ids" in sent or req.manager_config is not None:
            ensure_idle(record, uow.now, "changing its members or manager")
        if "description" in sent:
            if req.description is None:
                raise InvalidInputError("description cannot be null.", ("body", "description"))
            record.description = req.description
        if "project_id" in sent:
            record.project_id = req.project_id
        if "agent_ids" in sent:
            record.agent_ids = list(req.agent_ids or [])
        if req.manager_config is not None:
            manager = parse_manager_update(req.manager_config, record.manager_type)
            pattern_for(record.manager_type).update(record, manager)
        _check_shape(record, max_members(self._store.limits))
        after = record.agent_ids_with_manager()
        for agent in uow.load_existing(AgentRecord, [a for a in before if a not in after]):
            leave_group(uow, agent, record)
        agents = uow.load_many(AgentRecord, after)
        _check_members(record, agents)
        for agent in agents:
            join_group(uow, agent, record)
        if "shared_block_ids" in sent:
            wanted = list(dict.fromkeys(req.shared_block_ids or []))
            gone = [b for b in record.shared_block_ids if b not in wanted]
            for block in uow.load_existing(BlockRecord, gone):
                unshare_block(uow, record, block)
            for block in uow.load_many(BlockRecord, wanted):
                share_block(uow, record, block)
        uow.touch(record)
        uow.commit()
        return group_to_wire(record)

    @retry_on_conflict("the group")
    def delete(self, tenant: str, group_id: str) -> None:
        """Delete the group; its agents and blocks stay, only the links to it go."""
        uow = UnitOfWork(self._store, tenant, self._clock)
        record = uow.load(GroupRecord, group_id)
        ensure_idle(record, uow.now, "deleting it")
        agents = uow.load_existing(AgentRecord, record.agent_ids_with_manager())
        blocks = uow.load_existing(BlockRecord, record.shared_block_ids)
        record.agent_ids, record.manager_agent_id = [], None
        for agent in agents:
            leave_group(uow, agent, record)
        for block in blocks:
            if record.id in block.group_ids:
                block.group_ids.remove(record.id)
                uow.touch(block)
        uow.remove(record)
        uow.commit()

    @retry_on_conflict("the group")
    def attach_block(self, tenant: str, group_id: str, block_id: str) -> None:
        uow = UnitOfWork(self._store, tenant, self._clock)
        record = uow.load(GroupRecord, group_id)
        share_block(uow, record, uow.load(BlockRecord, block_id))
        uow.commit()

    @retry_on_conflict("the group")
    def detach_block(self, tenant: str, group_id: str, block_id: str) -> None:
        uow = UnitOfWork(self._store, tenant, self._clock)
        record = uow.load(GroupRecord, group_id)
        unshare_block(uow, record, uow.load(BlockRecord, block_id))
        uow.commit()


def _check_shape(record: GroupRecord, most_members: int) -> None:
    """Rules a group must satisfy after create or modify (400 with the rule broken): the
    membership rules of every group, then its pattern's own."""
    duplicates = sorted({a for a in record.agent_ids if record.agent_ids.count(a) > 1})
    if duplicates:
        raise BadRequestError(f"Duplicate agent ids in agent_ids: {some(list(duplicates))}")
    if len(record.agent_ids) > most_members:
        raise BadRequestError(f"A group has at most {most_members} members.")
    if record.manager_agent_id is not None and record.manager_agent_id in record.agent_ids:
        raise BadRequestError(
            f"The manager {record.manager_agent_id} cannot also be a member of the group."
        )
    pattern_for(record.manager_type).configure(record)


def _check_members(record: GroupRecord, agents: list[AgentRecord]) -> None:
    """The pattern's rules on its members themselves (a dynamic group's distinct names)."""
    by_id = {agent.id: agent for agent in agents}
    names = [by_id[a].name for a in record.agent_ids if a in by_id]
    pattern_for(record.manager_type).check_members(record, names)
