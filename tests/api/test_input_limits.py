"""Hostile input is refused before any work, with a 4xx naming the field and the limit
(issue 10's findings: deep nesting, surrogates, NaN, oversized fields and bodies, echoed
input, auth order, bad message items, trailing slashes, unbounded turns and steps)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.schemas.groups import MAX_TURNS
from core.schemas.messages import MAX_MESSAGES_PER_REQUEST, MAX_STEPS
from handler.app import create_app
from handler.composition import build_services
from handler.json_limits import MAX_BODY_BYTES, MAX_DEPTH, MAX_ITEMS, MAX_STRING_CHARS
from infra.settings import Settings
from tests.conftest import Api

MISSING_GROUP = "/v1/groups/group-123e4567-e89b-42d3-8456-426614174000/messages"


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"a": value}
    return value


def test_deep_metadata_is_a_422_and_nothing_is_stored(client: TestClient, api: Api) -> None:
    for levels in (200, 400, 5000):  # 5000: past Python's own recursion limit
        body = '{"name": "deep", "metadata": ' + '{"a": ' * levels + "{}" + "}" * (levels + 1)
        response = client.post("/v1/agents/", content=body)
        assert response.status_code == 422, (levels, response.text[:200])
        error = response.json()["detail"][0]
        if levels < 1000:  # deeper than the parser goes: the body as a whole
            assert error["loc"][:3] == ["body", "metadata", "a"]
        assert f"at most {MAX_DEPTH}" in error["msg"]
    assert client.get("/v1/agents/").json() == []
    kept = api.agent("shallow", metadata=nested(MAX_DEPTH - 2))
    assert client.get(f"/v1/agents/{kept['id']}").json()["metadata"] == nested(MAX_DEPTH - 2)


@pytest.mark.parametrize(
    "body",
    ['{"name": "a\\ud800b"}', '{"name": "ok", "tags": ["\\udfff"]}', '{"\\ud800": 1, "name": "x"}'],
)
def test_lone_surrogates_are_a_422(client: TestClient, body: str) -> None:
    response = client.post("/v1/agents/", content=body)
    assert response.status_code == 422, response.text
    assert "surrogate" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_a_422_that_serializes(client: TestClient, constant: str) -> None:
    response = client.post(
        "/v1/agents/", content=f'{{"name": "x", "context_window_limit": {constant}}}'
    )
    assert response.status_code == 422, response.text
    assert constant in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("route", ["/v1/agents/", "/v1/groups/", "/v1/blocks/"])
def test_a_500_kb_field_is_a_413_naming_field_and_limit(client: TestClient, route: str) -> None:
    body = {"name": "n", "agent_ids": [], "label": "l", "value": "v", "description": "d" * 500_000}
    response = client.post(route, json=body)
    assert response.status_code == 413, response.text[:200]
    detail = response.json()["detail"]
    assert "body.description" in detail and str(MAX_STRING_CHARS) in detail


def test_too_many_items_in_one_array_is_a_413(client: TestClient) -> None:
    response = client.post("/v1/agents/", json={"name": "x", "tags": ["t"] * (MAX_ITEMS + 1)})
    assert response.status_code == 413
    assert "body.tags" in response.json()["detail"]


def test_a_10_mb_body_is_a_413_before_it_is_read(client: TestClient) -> None:
    body = json.dumps({"messages": [{"role": "user", "content": "x"}] * 400_000}).encode()
    assert len(body) > MAX_BODY_BYTES
    response = client.post(MISSING_GROUP, content=body)
    assert response.status_code == 413
    assert len(response.content) < 200


def test_a_large_body_without_length_is_cut_off_at_the_limit(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # sent chunked: no Content-Length to go by
        yield b'{"input": "'
        for _ in range(11):
            yield b"x" * 1_000_000
        yield b'"}'

    response = client.post(MISSING_GROUP, content=chunks())
    assert response.status_code == 413


def test_a_near_10_mb_array_is_refused_quickly_and_echoes_nothing(client: TestClient) -> None:
    body = json.dumps({"messages": [{"role": "user", "content": "x"}] * 300_000}).encode()
    assert len(body) < MAX_BODY_BYTES
    response = client.post(MISSING_GROUP, content=body)
    assert response.status_code == 413
    assert len(response.content) < 200


def test_a_422_quotes_only_a_short_prefix_of_the_input(client: TestClient) -> None:
    response = client.post("/v1/agents/", json={"name": "x", "agent_type": "y" * 100_000})
    assert response.status_code == 422
    assert len(response.content) < 1_000
    response = client.post(MISSING_GROUP, json={"messages": [{"role": "user"}] * 60})
    assert response.status_code == 422
    assert len(response.content) < 1_000


def test_a_cursor_error_quotes_only_a_short_prefix(client: TestClient) -> None:
    response = client.get("/v1/agents/", params={"after": "c" * 5_000})
    assert response.status_code == 400
    assert len(response.json()["detail"]) < 200


@pytest.mark.parametrize(
    ("item", "loc_end"),
    [({"role": "wizard", "content": "x"}, "role"), ({"content": "x"}, "role")],
)
def test_a_bad_message_item_is_a_422_naming_the_field(
    client: TestClient, api: Api, item: dict[str, Any], loc_end: str
) -> None:
    group = api.group([api.agent("a")["id"]])
    response = client.post(f"/v1/groups/{group['id']}/messages", json={"messages": [item]})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][:3] == ["body", "messages", 0]
    assert response.json()["detail"][0]["loc"][-1] == loc_end


def test_an_explicit_approval_is_still_read_as_one(client: TestClient, api: Api) -> None:
    group = api.group([api.agent("a")["id"]])
    approval = {"type": "approval", "approve": True, "approval_request_id": "message-x"}
    response = client.post(f"/v1/groups/{group['id']}/messages", json={"messages": [approval]})
    assert response.status_code == 400
    assert "waiting for an approval" in response.json()["detail"]


def test_turns_steps_and_messages_have_upper_bounds(client: TestClient, api: Api) -> None:
    member = api.agent("a")["id"]
    for turns, status in ((10**9, 422), (MAX_TURNS + 1, 422), (MAX_TURNS, 200)):
        config = {"manager_type": "round_robin", "max_turns": turns}
        body = {"agent_ids": [member], "description": "g", "manager_config": config}
        assert client.post("/v1/groups/", json=body).status_code == status, turns
    group = api.group([member])
    send = f"/v1/groups/{group['id']}/messages"
    response = client.post(send, json={"input": "hi", "max_steps": MAX_STEPS + 1})
    assert response.status_code == 422
    too_many = [{"role": "user", "content": "x"}] * (MAX_MESSAGES_PER_REQUEST + 1)
    assert client.post(send, json={"messages": too_many}).status_code == 422


def test_item_routes_answer_with_and_without_a_trailing_slash(client: TestClient, api: Api) -> None:
    agent = api.agent("a")
    group = api.group([agent["id"]])
    for path in (f"/v1/agents/{agent['id']}", f"/v1/groups/{group['id']}", "/v1/groups/count"):
        plain, slashed = client.get(path), client.get(path + "/")
        assert (slashed.status_code, slashed.json()) == (200, plain.json()), path
    patched = client.patch(f"/v1/groups/{group['id']}/", json={"description": "new"})
    assert patched.status_code == 200 and patched.json()["description"] == "new"


def test_without_a_key_every_bad_body_is_a_401(settings: Settings) -> None:
    keyed = create_app(build_services(settings.model_copy(update={"api_keys": "k1"})))
    client = TestClient(keyed)
    bodies: list[bytes] = [
        b"{not json",
        b'{"name": NaN}',
        json.dumps({"metadata": nested(100)}).encode(),
        b"[" + b"1," * 300_000 + b"1]",
    ]
    for body in bodies:
        response = client.post("/v1/agents/", content=body)
        assert response.status_code == 401, (body[:20], response.text)
    big = client.post(MISSING_GROUP, content=b"x" * (MAX_BODY_BYTES + 1))
    assert big.status_code == 401
    authorized = client.post("/v1/agents/", content=b"{not json", headers={"X-API-Key": "k1"})
    assert authorized.status_code == 422
    assert authorized.json()["detail"][0]["type"] == "json_invalid"


def test_an_error_naming_many_unknown_ids_lists_only_a_few(client: TestClient) -> None:
    ids = [f"agent-123e4567-e89b-42d3-8456-4266141{n:05d}" for n in range(40)]
    response = client.post("/v1/groups/", json={"agent_ids": ids, "description": "g"})
    assert response.status_code == 404
    assert response.json()["detail"].endswith(f"{ids[4]} and 35 more")
