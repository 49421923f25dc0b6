"""Every filter the list routes offer, through the services on the in-memory store.

The store contract suite holds the fake and DynamoDB to the same filter semantics; these
tests hold the services' filter builders to what the routes promise.
"""

from __future__ import annotations

import pytest

from core.paging import PageRequest
from core.schemas.agents import CreateAgentRequest
from core.schemas.blocks import CreateBlock
from core.schemas.groups import GroupCreate
from core.services.agents import AgentFilter, AgentService
from core.services.blocks import BlockFilter, BlockService
from core.services.groups import GroupFilter, GroupService
from tests.fakes import FakeClock, InMemoryStore

T = "t"
ALL = PageRequest(limit=50)


@pytest.fixture
def services() -> tuple[AgentService, BlockService, GroupService]:
    store, clock = InMemoryStore(), FakeClock()
    return (
        AgentService(store, clock, "offline/default"),
        BlockService(store, clock),
        GroupService(store, clock),
    )


def test_agent_filters(services: tuple[AgentService, BlockService, GroupService]) -> None:
    agents = services[0]
    agents.create(
        T,
        CreateAgentRequest(
            name="Alpha",
            tags=["red", "big"],
            project_id="p1",
            template_id="t1",
            base_template_id="b1",
            identity_ids=["i1", "i2"],
        ),
    )
    agents.create(T, CreateAgentRequest(name="beta", tags=["red"], project_id="p2"))
    agents.create(T, CreateAgentRequest(name="gamma"))

    def names(**where: object) -> list[str]:
        return sorted(a.name for a in agents.list(T, ALL, AgentFilter(**where)))  # type: ignore[arg-type]

    assert names() == ["Alpha", "beta", "gamma"]
    assert names(name="beta") == ["beta"]
    assert names(name="Beta") == []
    assert names(query_text="ALP") == ["Alpha"]
    assert names(query_text="a") == ["Alpha", "beta", "gamma"]
    assert names(tags=("red",)) == ["Alpha", "beta"]
    assert names(tags=("big", "blue")) == ["Alpha"]
    assert names(tags=("red", "big"), match_all_tags=True) == ["Alpha"]
    assert names(project_id="p2") == ["beta"]
    assert names(template_id="t1") == ["Alpha"]
    assert names(base_template_id="b1") == ["Alpha"]
    assert names(identity_id="i2") == ["Alpha"]
    assert names(identity_id="i3") == []
    assert names(last_stop_reason="end_turn") == []
    assert names(tags=("red",), project_id="p1") == ["Alpha"]


def test_block_filters(services: tuple[AgentService, BlockService, GroupService]) -> None:
    blocks = services[1]
    blocks.create(T, CreateBlock(label="human", value="Sam likes Tea", description="The user"))
    blocks.create(
        T,
        CreateBlock(
            label="persona",
            value="I am helpful",
            is_template=True,
            template_name="helper",
            tags=["core", "shared"],
        ),
    )
    blocks.create(T, CreateBlock(label="notes", value="misc", project_id="p1", tags=["core"]))

    def labels(**where: object) -> list[str | None]:
        return [b.label for b in blocks.list(T, ALL, BlockFilter(**where))]  # type: ignore[arg-type]

    assert labels() == ["human", "persona", "notes"]
    assert labels(label="human") == ["human"]
    assert labels(templates_only=True) == ["persona"]
    assert labels(name="helper") == ["persona"]
    assert labels(project_id="p1") == ["notes"]
    assert labels(tags=("shared", "other")) == ["persona"]
    assert labels(tags=("core", "shared"), match_all_tags=True) == ["persona"]
    assert labels(label_search="ERSO") == ["persona"]
    assert labels(value_search="tea") == ["human"]
    assert labels(description_search="USER") == ["human"]
    assert labels(description_search="x") == []
    assert labels(tags=("core",), value_search="misc") == ["notes"]


def test_group_filters_on_lists_and_on_an_agents_groups(
    services: tuple[AgentService, BlockService, GroupService],
) -> None:
    agents, _, groups = services
    member = agents.create(T, CreateAgentRequest(name="m")).id
    manager = agents.create(T, CreateAgentRequest(name="boss")).id
    rr = groups.create(T, GroupCreate(agent_ids=[member], description="d", project_id="p1"))
    sup = groups.create(
        T,
        GroupCreate.model_validate(
            {
                "agent_ids": [member],
                "description": "d",
                "manager_config": {"manager_type": "supervisor", "manager_agent_id": manager},
            }
        ),
    )

    def listed(**where: object) -> list[str]:
        return [g.id for g in groups.list(T, ALL, GroupFilter(**where))]  # type: ignore[arg-type]

    assert listed() == [rr.id, sup.id]
    assert listed(manager_type="supervisor") == [sup.id]
    assert listed(project_id="p1") == [rr.id]
    assert listed(project_id="p1", manager_type="supervisor") == []
    of_member = agents.list_groups(T, member, ALL, "round_robin")
    assert [g.id for g in of_member] == [rr.id]
    assert [g.id for g in agents.list_groups(T, manager, ALL, None)] == [sup.id]
