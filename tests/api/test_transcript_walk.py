"""Walking a group transcript the way the SDK's auto-pagination does (`after` = the last id
of the page) yields every message exactly once, in both orders and at any `limit`, though
one stored model step renders as several messages (reasoning, then the reply), each with
an id of its own (core.message_parts); and no page holds more than `limit`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api


@pytest.fixture
def transcript(api: Api) -> tuple[str, list[dict[str, Any]]]:
    """A 40-message transcript: 8 sends to a pair, each a user message and two replies of
    reasoning + assistant text."""
    group = api.group([api.agent("ann")["id"], api.agent("bob")["id"]])
    for n in range(8):
        api.ok("POST", f"/v1/groups/{group['id']}/messages", json={"input": f"point {n}"})
    everything = api.ok(
        "GET", f"/v1/groups/{group['id']}/messages", params={"limit": 1000, "order": "asc"}
    )
    assert len(everything) == 40
    return group["id"], everything


def _walk(api: Api, group_id: str, limit: int, order: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit, "order": order}
    for _ in range(200):
        page = api.ok("GET", f"/v1/groups/{group_id}/messages", params=params)
        assert len(page) <= limit
        if not page:
            return seen
        seen.extend(page)
        params["after"] = page[-1]["id"]
    raise AssertionError("the walk never ended")


def _key(message: dict[str, Any]) -> tuple[str, str]:
    return message["id"], message["message_type"]


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_every_message_once_at_any_limit_in_both_orders(
    api: Api, transcript: tuple[str, list[dict[str, Any]]], limit: int, order: str
) -> None:
    group_id, everything = transcript
    walked = _walk(api, group_id, limit, order)
    expected = everything if order == "asc" else list(reversed(everything))
    assert [_key(m) for m in walked] == [_key(m) for m in expected]
