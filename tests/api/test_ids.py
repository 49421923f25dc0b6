"""Ids in paths and bodies: malformed is a 422 naming the field, well-formed but absent a 404."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core import ids
from tests.conftest import Api

UUID4 = "123e4567-e89b-42d3-8456-426614174000"
OTHER_PREFIX = {
    "agent": "group",
    "group": "block",
    "block": "agent",
    "run": "job",
    "message": "massage",
}


def malformed(prefix: str) -> dict[str, str]:
    """Ids that look almost right; wrong_prefix keeps the length so only the pattern fails."""
    return {
        "wrong_prefix": f"{OTHER_PREFIX[prefix]}-{UUID4}",
        "uppercase": f"{prefix}-{UUID4.upper()}",
        "uuid1_version": f"{prefix}-123e4567-e89b-12d3-a456-426614174000",
        "too_short": f"{prefix}-123e4567",
        "no_prefix": UUID4,
    }


def missing(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


# (method, template, body) of every route with an id in its path.
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/agents/{agent_id}", None),
    ("PATCH", "/v1/agents/{agent_id}", {"description": "x"}),
    ("DELETE", "/v1/agents/{agent_id}", None),
    ("GET", "/v1/agents/{agent_id}/groups", None),
    ("POST", "/v1/agents/{agent_id}/messages", {"input": "x"}),
    ("GET", "/v1/agents/{agent_id}/messages", None),
    ("POST", "/v1/agents/{agent_id}/messages/stream", {"input": "x"}),
    ("PATCH", "/v1/agents/{agent_id}/core-memory/blocks/attach/{block_id}", None),
    ("GET", "/v1/blocks/{block_id}", None),
    ("PATCH", "/v1/blocks/{block_id}", {"value": "x"}),
    ("DELETE", "/v1/blocks/{block_id}", None),
    ("GET", "/v1/groups/{group_id}", None),
    ("PATCH", "/v1/groups/{group_id}", {"description": "x"}),
    ("DELETE", "/v1/groups/{group_id}", None),
    ("PATCH", "/v1/groups/{group_id}/blocks/attach/{block_id}", None),
    ("PATCH", "/v1/groups/{group_id}/blocks/detach/{block_id}", None),
    ("POST", "/v1/groups/{group_id}/messages", {"input": "x"}),
    ("POST", "/v1/groups/{group_id}/messages/stream", {"input": "x"}),
    ("GET", "/v1/groups/{group_id}/messages", None),
    ("PATCH", "/v1/groups/{group_id}/messages/{message_id}", {"content": "x"}),
    ("PATCH", "/v1/groups/{group_id}/reset-messages", None),
    ("GET", "/v1/runs/{run_id}", None),
    ("DELETE", "/v1/runs/{run_id}", None),
    ("GET", "/v1/runs/{run_id}/messages", None),
]
CASES = [
    (method, template, body, param)
    for method, template, body in ROUTES
    for param in re.findall(r"{(\w+)}", template)
]
CASE_IDS = [f"{m} {t} [{p}]" for m, t, _, p in CASES]


@pytest.fixture
def existing(api: Api) -> dict[str, str]:
    """One real id per path parameter: a group whose member holds the shared block, and a
    run of that member."""
    block = api.block("shared")
    agent = api.agent("member", block_ids=[block["id"]])
    group = api.group([agent["id"]], shared_block_ids=[block["id"]])
    runs = api.client.app.state.services.runs  # type: ignore[attr-defined]
    run = runs.create("default", agent["id"], {"kind": "agent_turn", "input": "x"})
    sent = api.ok("POST", f"/v1/groups/{group['id']}/messages", json={"input": "hi"})
    return {
        "agent_id": agent["id"],
        "block_id": block["id"],
        "group_id": group["id"],
        "run_id": run.id,
        "message_id": sent["messages"][-1]["id"],
    }


def call(client: TestClient, method: str, url: str, body: dict[str, Any] | None) -> Any:
    return (
        client.request(method, url, json=body) if body is not None else client.request(method, url)
    )


@pytest.mark.parametrize("kind", list(malformed("agent")))
@pytest.mark.parametrize(("method", "template", "body", "param"), CASES, ids=CASE_IDS)
def test_malformed_path_id_is_422_naming_the_parameter(
    client: TestClient,
    existing: dict[str, str],
    method: str,
    template: str,
    body: dict[str, Any] | None,
    param: str,
    kind: str,
) -> None:
    bad = malformed(param.removesuffix("_id"))[kind]
    response = call(client, method, template.format(**{**existing, param: bad}), body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert [item["loc"] for item in detail] == [["path", param]], detail
    # The resource is untouched by a rejected request.
    for name, value in existing.items():
        if name == "message_id":
            continue
        assert client.get(f"/v1/{name.removesuffix('_id')}s/{value}").status_code == 200


@pytest.mark.parametrize("kind", list(malformed("agent")))
@pytest.mark.parametrize("prefix", ["agent", "block", "group", "run"])
def test_malformed_path_id_error_states_the_expected_pattern(
    client: TestClient, prefix: str, kind: str
) -> None:
    """SPEC §1: the 422 names the field *and the expected pattern*, whatever check failed."""
    response = client.get(f"/v1/{prefix}s/{malformed(prefix)[kind]}")
    assert response.status_code == 422
    text = json.dumps(response.json())
    assert ids.id_pattern(prefix) in text or f"{prefix}-<uuid4>" in text, text


@pytest.mark.parametrize("kind", list(malformed("agent")))
def test_malformed_body_id_error_states_the_expected_pattern(client: TestClient, kind: str) -> None:
    body = {"agent_ids": [malformed("agent")[kind]], "description": "g"}
    response = client.post("/v1/groups/", json=body)
    assert response.status_code == 422
    text = json.dumps(response.json())
    assert ids.id_pattern("agent") in text or "agent-<uuid4>" in text, text


@pytest.mark.parametrize(("method", "template", "body", "param"), CASES, ids=CASE_IDS)
def test_well_formed_missing_id_is_404_naming_it(
    client: TestClient,
    existing: dict[str, str],
    method: str,
    template: str,
    body: dict[str, Any] | None,
    param: str,
) -> None:
    absent = missing(param.removesuffix("_id"))
    response = call(client, method, template.format(**{**existing, param: absent}), body)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/json")
    payload = response.json()
    assert set(payload) == {"detail"} and isinstance(payload["detail"], str), payload
    assert absent in payload["detail"]


def test_missing_id_404_is_the_same_for_every_verb(client: TestClient) -> None:
    absent = missing("group")
    details = {
        method: client.request(method, f"/v1/groups/{absent}", json={}).json()
        for method in ("GET", "PATCH", "DELETE")
    }
    assert len({json.dumps(d) for d in details.values()}) == 1, details


# --- ids inside request bodies --------------------------------------------------------------


def test_group_create_with_malformed_member_names_its_index(
    client: TestClient, existing: dict[str, str]
) -> None:
    bad = malformed("agent")["uppercase"]
    body = {"agent_ids": [existing["agent_id"], bad], "description": "g"}
    response = client.post("/v1/groups/", json=body)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "agent_ids", 1]]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (
            {"manager_config": {"manager_type": "supervisor", "manager_agent_id": "agent-1"}},
            ["body", "manager_config", "supervisor", "manager_agent_id"],
        ),
        ({"shared_block_ids": [f"agent-{UUID4}"]}, ["body", "shared_block_ids", 0]),
    ],
)
def test_group_create_with_malformed_body_ids(
    client: TestClient, body: dict[str, Any], loc: list[Any]
) -> None:
    response = client.post("/v1/groups/", json={"agent_ids": [], "description": "g", **body})
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [loc]


def test_agent_create_with_malformed_block_id_names_its_index(client: TestClient) -> None:
    response = client.post("/v1/agents/", json={"name": "a", "block_ids": [f"block-{UUID4[:-1]}"]})
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "block_ids", 0]]


def assert_404_naming(response: Any, *names: str) -> None:
    assert response.status_code == 404, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    for name in names:
        assert name in detail, (name, detail)


def test_group_create_with_missing_member_is_404_and_writes_nothing(
    client: TestClient, existing: dict[str, str]
) -> None:
    before = client.get("/v1/groups/count").json()
    absent = missing("agent")
    response = client.post(
        "/v1/groups/", json={"agent_ids": [existing["agent_id"], absent], "description": "g"}
    )
    assert_404_naming(response, absent)
    assert client.get("/v1/groups/count").json() == before
    groups = client.get(f"/v1/agents/{existing['agent_id']}/groups").json()
    assert [g["id"] for g in groups] == [existing["group_id"]]


@pytest.mark.parametrize("kind", ["supervisor", "dynamic", "sleeptime", "voice_sleeptime"])
def test_group_create_with_missing_manager_is_404(
    client: TestClient, existing: dict[str, str], kind: str
) -> None:
    absent = missing("agent")
    response = client.post(
        "/v1/groups/",
        json={
            "agent_ids": [existing["agent_id"]],
            "description": "g",
            "manager_config": {"manager_type": kind, "manager_agent_id": absent},
        },
    )
    assert_404_naming(response, absent)
    assert client.get("/v1/groups/count").json() == 1


def test_group_create_with_missing_shared_block_is_404(
    client: TestClient, existing: dict[str, str]
) -> None:
    absent = missing("block")
    response = client.post(
        "/v1/groups/",
        json={
            "agent_ids": [existing["agent_id"]],
            "description": "g",
            "shared_block_ids": [absent],
        },
    )
    assert_404_naming(response, absent)


def test_group_modify_with_missing_member_is_404_and_keeps_members(
    client: TestClient, existing: dict[str, str]
) -> None:
    absent = missing("agent")
    url = f"/v1/groups/{existing['group_id']}"
    assert_404_naming(client.patch(url, json={"agent_ids": [absent]}), absent)
    assert client.get(url).json()["agent_ids"] == [existing["agent_id"]]


def test_agent_create_with_missing_block_is_404_and_writes_nothing(
    client: TestClient, existing: dict[str, str]
) -> None:
    absent = missing("block")
    before = len(client.get("/v1/agents/").json())
    response = client.post(
        "/v1/agents/", json={"name": "a", "block_ids": [existing["block_id"], absent]}
    )
    assert_404_naming(response, absent)
    assert len(client.get("/v1/agents/").json()) == before


def test_agent_modify_with_missing_block_is_404(
    client: TestClient, existing: dict[str, str]
) -> None:
    absent = missing("block")
    url = f"/v1/agents/{existing['agent_id']}"
    assert_404_naming(client.patch(url, json={"block_ids": [absent]}), absent)
    assert existing["block_id"] in [b["id"] for b in client.get(url).json()["blocks"]]


def test_generated_ids_are_well_formed(existing: dict[str, str]) -> None:
    lengths = {"agent": 42, "block": 42, "group": 42, "run": 40, "message": 44}
    for name, value in existing.items():
        prefix = name.removesuffix("_id")
        assert ids.is_valid(prefix, value) and len(value) == lengths[prefix], value
