"""Block use-cases: create, read, list, modify, delete (detaching from agents and groups)."""

from __future__ import annotations

from dataclasses import dataclass

from core import ids
from core.errors import BadRequestError, InvalidInputError, NotFoundError
from core.filters import ContainsText, Equals, Filter, HasAll, HasAny, IsTrue
from core.paging import PageRequest
from core.persistence.retry import retry_on_conflict
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store
from core.records import AgentRecord, BlockRecord, GroupRecord
from core.schemas.blocks import Block, BlockUpdate, CreateBlock, check_within_limit
from core.services.links import remove_all

_NOT_NULLABLE = ("value", "limit", "is_template", "read_only", "label")


@dataclass(frozen=True)
class BlockFilter:
    """The list route's query filters, turned into store filters (`filters`); the
    searches ignore case."""

    label: str | None = None
    templates_only: bool = False
    name: str | None = None
    project_id: str | None = None
    tags: tuple[str, ...] = ()
    match_all_tags: bool = False
    label_search: str | None = None
    value_search: str | None = None
    description_search: str | None = None

    def filters(self) -> tuple[Filter, ...]:
        """Every filter asked for; all must hold (an unset one is left out)."""
        found: list[Filter] = []
        if self.label is not None:
            found.append(Equals("label", self.label))
        if self.templates_only:
            found.append(IsTrue("is_template"))
        if self.name is not None:
            found.append(Equals("template_name", self.name))
        if self.project_id is not None:
            found.append(Equals("project_id", self.project_id))
        for field, needle in (
            ("label", self.label_search),
            ("value", self.value_search),
            ("description", self.description_search),
        ):
            if needle is not None:
                found.append(ContainsText(field, needle))
        if self.tags:
            found.append(
                HasAll("tags", self.tags) if self.match_all_tags else HasAny("tags", self.tags)
            )
        return tuple(found)


def block_to_wire(record: BlockRecord) -> Block:
    return Block.model_validate(record.model_dump(exclude={"agent_ids", "group_ids"}))


def new_block_record(body: CreateBlock, clock: Clock) -> BlockRecord:
    """A fresh block record (not yet saved) from a create body."""
    return BlockRecord(id=ids.new_id(ids.BLOCK), created_at=clock.now(), **body.model_dump())


class BlockService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def create(self, tenant: str, body: CreateBlock) -> Block:
        record = new_block_record(body, self._clock)
        uow = UnitOfWork(self._store, tenant, self._clock)
        uow.add(record)
        uow.commit()
        return block_to_wire(record)

    def get(self, tenant: str, block_id: str) -> Block:
        record = self._store.get(tenant, BlockRecord, block_id)
        if record is None:
            raise NotFoundError(f"Block not found: {block_id}")
        return block_to_wire(record)

    def list(self, tenant: str, page: PageRequest, where: BlockFilter) -> list[Block]:
        records = self._store.list(tenant, BlockRecord, page, where.filters())
        return [block_to_wire(r) for r in records]

    @retry_on_conflict("the block")
    def update(self, tenant: str, block_id: str, body: BlockUpdate) -> Block:
        uow = UnitOfWork(self._store, tenant, self._clock)
        return self._change(uow, uow.load(BlockRecord, block_id), body)

    @retry_on_conflict("the block")
    def update_held(self, tenant: str, agent_id: str, label: str, body: BlockUpdate) -> Block:
        """The agent's block with that label, changed as `update` changes a block (Letta's
        Modify Block of an agent's core memory); 404 for an unknown agent or label."""
        uow = UnitOfWork(self._store, tenant, self._clock)
        agent = uow.load(AgentRecord, agent_id)
        held = uow.load_existing(BlockRecord, agent.block_ids)
        record = next((block for block in held if block.label == label), None)
        if record is None:
            raise NotFoundError(f"Block with label {label!r} not found on agent {agent_id}")
        return self._change(uow, record, body)

    def _change(self, uow: UnitOfWork, record: BlockRecord, body: BlockUpdate) -> Block:
        sent = body.model_dump(include=body.model_fields_set)
        for field in _NOT_NULLABLE:
            if field in sent and sent[field] is None:
                raise InvalidInputError(f"{field} cannot be null.", ("body", field))
        for field, value in sent.items():
            setattr(record, field, value)
        try:
            check_within_limit(record.value, record.limit)
        except ValueError as exc:
            raise InvalidInputError(str(exc), ("body", "value")) from exc
        if "label" in sent:
            self._check_label_free(uow, record)
        uow.touch(record)
        uow.commit()
        return block_to_wire(record)

    @retry_on_conflict("the block")
    def delete(self, tenant: str, block_id: str) -> None:
        """Delete the block and detach it from every agent and group holding it."""
        uow = UnitOfWork(self._store, tenant, self._clock)
        record = uow.load(BlockRecord, block_id)
        for agent in uow.load_existing(AgentRecord, record.agent_ids):
            remove_all(agent.block_ids, [block_id])
            uow.touch(agent)
        for group in uow.load_existing(GroupRecord, record.group_ids):
            remove_all(group.shared_block_ids, [block_id])
            uow.touch(group)
        uow.remove(record)
        uow.commit()

    @staticmethod
    def _check_label_free(uow: UnitOfWork, block: BlockRecord) -> None:
        for agent in uow.load_many(AgentRecord, block.agent_ids):
            others = [b for b in agent.block_ids if b != block.id]
            if any(b.label == block.label for b in uow.load_many(BlockRecord, others)):
                raise BadRequestError(
                    f"Agent {agent.id} already has a block labelled {block.label!r}."
                )
