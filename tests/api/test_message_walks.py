"""Every message listing keeps SPEC §5's promise, not only the group transcript: an agent's
messages and a run's (an agent's run, and a group send's logged run) never hold more than
`limit` per page, and walking them with `after` = the last id (as the SDK's
auto-pagination does), or backwards with `before` = the first id, yields each message once,
in both orders. Their assistant steps render as several messages (reasoning, a memory tool
call, the reply), each with its own id, so pages end inside steps."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infra.launchers import InProcessLauncher
from tests.api.test_response_schemas import assert_valid
from tests.conftest import Api

Listing = tuple[str, str, list[dict[str, Any]]]
"""A listing's path, its route in the reference document, and all its messages (asc)."""


def _all(api: Api, path: str) -> list[dict[str, Any]]:
    return api.ok("GET", path, params={"limit": 1000, "order": "asc"})


def _finished(client: TestClient, run: dict[str, Any]) -> str:
    launcher = client.app.state.services.runs.launcher  # type: ignore[attr-defined]
    assert isinstance(launcher, InProcessLauncher)
    assert launcher.wait_idle(timeout=60)
    assert client.get(f"/v1/runs/{run['id']}").json()["status"] == "completed"
    return str(run["id"])


def _agent_history(api: Api, _: TestClient) -> Listing:
    agent = api.agent("ann", memory_blocks=[{"label": "human", "value": "Sam"}])
    for text in ("Please remember that I like tea.", "hello", "Remember my cat is Tom."):
        api.ok("POST", f"/v1/agents/{agent['id']}/messages", json={"input": text})
    path = f"/v1/agents/{agent['id']}/messages"
    return path, "/v1/agents/{agent_id}/messages", _all(api, path)


def _agent_run(api: Api, client: TestClient) -> Listing:
    agent = api.agent("ann", memory_blocks=[{"label": "human", "value": "Sam"}])
    api.ok("POST", f"/v1/agents/{agent['id']}/messages", json={"input": "before the run"})
    body = {"input": "Please remember that I like tea, and that my cat is Tom."}
    run = api.ok("POST", f"/v1/agents/{agent['id']}/messages/async", json=body)
    path = f"/v1/runs/{_finished(client, run)}/messages"
    return path, "/v1/runs/{run_id}/messages", _all(api, path)


def _group_run(api: Api, client: TestClient) -> Listing:
    group = api.group([api.agent(name)["id"] for name in ("ann", "bob", "cid")])
    body = {"input": "Please remember that the launch is on Friday."}
    run = api.ok("POST", f"/v1/groups/{group['id']}/messages/async", json=body)
    path = f"/v1/runs/{_finished(client, run)}/messages"
    return path, "/v1/runs/{run_id}/messages", _all(api, path)


LISTINGS: dict[str, Callable[[Api, TestClient], Listing]] = {
    "agent history": _agent_history,
    "agent run": _agent_run,
    "group run": _group_run,
}


@pytest.fixture(params=list(LISTINGS))
def listing(request: pytest.FixtureRequest, api: Api, client: TestClient) -> Listing:
    path, route, everything = LISTINGS[request.param](api, client)
    steps = Counter(m["step_id"] for m in everything if m["step_id"])
    assert max(steps.values()) >= 2, "no step renders as several messages: nothing to cut"
    assert len({m["id"] for m in everything}) == len(everything), "ids are not unique"
    return path, route, everything


def _walk_after(api: Api, path: str, limit: int, order: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit, "order": order}
    for _ in range(300):
        page = api.ok("GET", path, params=params)
        assert len(page) <= limit
        if not page:
            return seen
        seen.extend(page)
        params["after"] = page[-1]["id"]
    raise AssertionError("the walk never ended")


def _walk_before(api: Api, path: str, limit: int, order: str, start: str) -> list[dict[str, Any]]:
    """From the cursor `start` (excluded) back to the start of the list, in list order."""
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit, "order": order, "before": start}
    for _ in range(300):
        page = api.ok("GET", path, params=params)
        assert len(page) <= limit
        if not page:
            return seen
        seen[:0] = page
        params["before"] = page[0]["id"]
    raise AssertionError("the walk never ended")


def _keys(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["id"], m["message_type"]) for m in messages]


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_walking_after_the_last_id_yields_every_message_once(
    api: Api, listing: Listing, limit: int, order: str
) -> None:
    path, _, everything = listing
    expected = everything if order == "asc" else list(reversed(everything))
    assert _keys(_walk_after(api, path, limit, order)) == _keys(expected)


@pytest.mark.parametrize("limit", [1, 3])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_walking_before_the_first_id_yields_every_message_once(
    api: Api, listing: Listing, limit: int, order: str
) -> None:
    path, _, everything = listing
    in_order = everything if order == "asc" else list(reversed(everything))
    walked = _walk_before(api, path, limit, order, in_order[-1]["id"])
    assert _keys(walked) == _keys(in_order[:-1])


def test_a_page_cut_inside_a_step_is_valid_and_resumes_at_its_next_part(
    api: Api, client: TestClient, listing: Listing
) -> None:
    path, route, everything = listing
    cut = next(
        i
        for i, m in enumerate(everything[:-1])
        if m["step_id"] and m["step_id"] == everything[i + 1]["step_id"]
    )
    page = {"limit": 1, "order": "asc"}
    response = client.get(path, params={**page, "after": everything[cut]["id"]})
    assert _keys(assert_valid("GET", route, response)) == _keys([everything[cut + 1]])
    response = client.get(path, params={**page, "before": everything[cut + 1]["id"]})
    assert _keys(assert_valid("GET", route, response)) == _keys([everything[cut]])
