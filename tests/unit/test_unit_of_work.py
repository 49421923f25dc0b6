"""Core use-cases on in-memory fakes: atomic commits, races, and retries."""

from __future__ import annotations

import pytest

from core.errors import ConcurrentModificationError, ConflictError, NotFoundError
from core.persistence.retry import retry_on_conflict
from core.persistence.unit_of_work import UnitOfWork
from core.records import AgentRecord, GroupRecord
from core.schemas.agents import CreateAgentRequest, UpdateAgent
from core.schemas.groups import GroupCreate, GroupUpdate
from core.services.agents import AgentService
from core.services.groups import GroupService
from tests.fakes import FakeClock, InMemoryStore


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_commit_is_all_or_nothing_when_one_record_moved(
    store: InMemoryStore, clock: FakeClock
) -> None:
    agents = AgentService(store, clock, "offline/default")
    a = agents.create("t", CreateAgentRequest(name="a"))
    b = agents.create("t", CreateAgentRequest(name="b"))
    uow = UnitOfWork(store, "t", clock)
    first, second = uow.load_many(AgentRecord, [a.id, b.id])
    first.name, second.name = "a2", "b2"
    uow.touch(first)
    uow.touch(second)
    agents.update("t", b.id, UpdateAgent(name="b-elsewhere"))  # a concurrent writer wins
    with pytest.raises(ConcurrentModificationError):
        uow.commit()
    assert agents.get("t", a.id).name == "a"
    assert agents.get("t", b.id).name == "b-elsewhere"


def test_use_cases_retry_lost_races_then_report_409() -> None:
    calls = []

    @retry_on_conflict("the record")
    def flaky(fail_times: int) -> str:
        calls.append(1)
        if len(calls) <= fail_times:
            raise ConcurrentModificationError("moved", ("agent agent-x",))
        return "done"

    assert flaky(2) == "done" and len(calls) == 3
    calls.clear()
    with pytest.raises(ConflictError) as error:
        flaky(99)
    assert not isinstance(error.value, ConcurrentModificationError)
    assert "Agent agent-x kept changing" in error.value.detail
    assert len(calls) == 4


def test_group_membership_is_written_on_both_sides_in_one_write(
    store: InMemoryStore, clock: FakeClock
) -> None:
    agents = AgentService(store, clock, "offline/default")
    groups = GroupService(store, clock)
    members = [agents.create("t", CreateAgentRequest(name=f"m{i}")).id for i in range(3)]
    writes_before = store.writes
    group = groups.create("t", GroupCreate(agent_ids=members, description="d"))
    assert store.writes == writes_before + 1
    for member in members:
        assert store.get("t", AgentRecord, member).group_ids == [group.id]
    groups.update("t", group.id, GroupUpdate(agent_ids=members[:1]))
    assert store.get("t", AgentRecord, members[2]).group_ids == []
    assert store.get("t", GroupRecord, group.id).version == 2


def test_missing_ids_are_all_named(store: InMemoryStore, clock: FakeClock) -> None:
    uow = UnitOfWork(store, "t", clock)
    with pytest.raises(NotFoundError) as error:
        uow.load_many(AgentRecord, ["agent-x", "agent-y"])
    assert "agent-x" in error.value.detail and "agent-y" in error.value.detail


def test_tenants_do_not_see_each_other(store: InMemoryStore, clock: FakeClock) -> None:
    agents = AgentService(store, clock, "offline/default")
    agent = agents.create("alice", CreateAgentRequest(name="a"))
    with pytest.raises(NotFoundError):
        agents.get("bob", agent.id)
