"""Cursor pagination of every list route: forward, backward, both orders, small limits."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import Api

Lister = Callable[[dict], list[dict]]
LISTS = ["agents", "blocks", "groups", "agent groups", "agent blocks", "block agents"]


def _collections(api: Api) -> dict[str, tuple[str, list[str]]]:
    """Five items of every listable collection, and the route listing them."""
    agents = [api.agent(f"agent-{i}")["id"] for i in range(5)]
    blocks = [api.block(f"label-{i}")["id"] for i in range(5)]
    groups = [api.group([agents[0]], description=f"g{i}")["id"] for i in range(5)]
    # Every agent holds the first block, and the second agent holds all five.
    attached = [(agent, blocks[0]) for agent in agents] + [(agents[1], b) for b in blocks[1:]]
    for agent, block in attached:
        api.ok("PATCH", f"/v1/agents/{agent}/core-memory/blocks/attach/{block}")
    return {
        "agents": ("/v1/agents/", agents),
        "blocks": ("/v1/blocks/", blocks),
        "groups": ("/v1/groups/", groups),
        "agent groups": (f"/v1/agents/{agents[0]}/groups", groups),
        "agent blocks": (f"/v1/agents/{agents[1]}/core-memory/blocks", blocks),
        "block agents": (f"/v1/blocks/{blocks[0]}/agents", agents),
    }


@pytest.fixture
def collections(api: Api) -> dict[str, tuple[str, list[str]]]:
    return _collections(api)


def _ids(api: Api, path: str, **params: object) -> list[str]:
    return [item["id"] for item in api.ok("GET", path, params=params)]


@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_forward_pages_cover_everything_once(
    api: Api, collections: dict[str, tuple[str, list[str]]], name: str, order: str
) -> None:
    path, created = collections[name]
    expected = created if order == "asc" else list(reversed(created))
    seen: list[str] = []
    after = None
    for _ in range(10):
        params = {"limit": 2, "order": order, **({"after": after} if after else {})}
        page = _ids(api, path, **params)
        if not page:
            break
        assert len(page) <= 2
        seen.extend(page)
        after = page[-1]
    assert seen == expected


@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_backward_pages_from_the_end(
    api: Api, collections: dict[str, tuple[str, list[str]]], name: str, order: str
) -> None:
    path, created = collections[name]
    expected = created if order == "asc" else list(reversed(created))
    seen: list[str] = []
    before = expected[-1]
    for _ in range(10):
        page = _ids(api, path, limit=2, order=order, before=before)
        if not page:
            break
        assert page == expected[max(0, expected.index(before) - 2) : expected.index(before)]
        seen = page + seen
        before = page[0]
    assert seen == expected[:-1]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_after_and_before_together_bound_the_window(
    api: Api, collections: dict[str, tuple[str, list[str]]], order: str
) -> None:
    path, created = collections["blocks"]
    expected = created if order == "asc" else list(reversed(created))
    page = _ids(api, path, order=order, after=expected[0], before=expected[4], limit=10)
    assert page == expected[1:4]


def test_default_orders(api: Api, collections: dict[str, tuple[str, list[str]]]) -> None:
    """Letta's defaults: groups and blocks oldest first, agents newest first."""
    assert _ids(api, "/v1/groups/") == collections["groups"][1]
    assert _ids(api, "/v1/blocks/") == collections["blocks"][1]
    assert _ids(api, "/v1/agents/") == list(reversed(collections["agents"][1]))


def test_filter_applies_within_pages(api: Api) -> None:
    agent = api.agent("a")["id"]
    manager = api.agent("m")["id"]
    kinds = ["round_robin", "supervisor", "round_robin", "supervisor", "round_robin"]
    created = []
    for kind in kinds:
        config = {"manager_type": kind}
        if kind == "supervisor":
            config["manager_agent_id"] = manager
        created.append(api.group([agent], manager_config=config)["id"])
    round_robin = [g for g, k in zip(created, kinds, strict=True) if k == "round_robin"]
    first = _ids(api, "/v1/groups/", manager_type="round_robin", limit=2)
    rest = _ids(api, "/v1/groups/", manager_type="round_robin", limit=2, after=first[-1])
    assert first + rest == round_robin
    assert api.ok("GET", "/v1/groups/count") == 5


def test_unknown_cursor_is_a_clear_400(api: Api) -> None:
    api.block()
    response = api.client.get(
        "/v1/blocks/", params={"after": "block-00000000-0000-4000-8000-000000000000"}
    )
    assert response.status_code == 400
    assert "after" in response.json()["detail"]


@pytest.mark.parametrize("limit", [0, -1, 1001, "x"])
def test_bad_limit_is_422(api: Api, limit: object) -> None:
    response = api.client.get("/v1/groups/", params={"limit": limit})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]
