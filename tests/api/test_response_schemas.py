"""Every 200 (and 422) body validates against Letta's published schema for that operation.

The scenarios are keyed by the reference document's (method, path), and one test walks the
reference: any operation the app serves must have a scenario here, so a new route cannot
ship without its response being checked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tests.conftest import Api
from tests.reference import OPENAPI

REFERENCE = OPENAPI
DOC: dict[str, Any] = json.loads(REFERENCE.read_text())
BASE = "urn:letta-openapi"
REGISTRY: Registry = Registry().with_resource(BASE, DRAFT202012.create_resource(DOC))
METHODS = ("get", "post", "put", "patch", "delete")
REFERENCE_OPS = sorted(
    (method.upper(), path)
    for path, ops in DOC["paths"].items()
    for method in ops
    if method in METHODS
)


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def validator_for(method: str, path: str, status: str = "200") -> Draft202012Validator:
    op = DOC["paths"][path][method.lower()]
    assert "application/json" in op["responses"][status]["content"], (method, path, status)
    ref = (
        BASE
        + "#"
        + _pointer(
            "paths",
            path,
            method.lower(),
            "responses",
            status,
            "content",
            "application/json",
            "schema",
        )
    )
    return Draft202012Validator(
        {"$ref": ref}, registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def assert_valid(method: str, path: str, response: httpx.Response, status: int = 200) -> Any:
    """The response has `status`, is JSON, and its body matches the reference schema."""
    assert response.status_code == status, (method, path, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    errors = sorted(
        validator_for(method, path, str(status)).iter_errors(body), key=lambda e: e.json_path
    )
    problems = [f"{e.json_path}: {e.message[:300]}" for e in errors]
    assert not problems, f"{method} {path} -> {status} does not match the reference:\n" + "\n".join(
        problems
    )
    return body


# --- resources -----------------------------------------------------------------------------

TERMINAL_RULE = {"type": "exit_loop", "tool_name": "send_message"}


def rich_agent(api: Api, name: str = "rich") -> dict[str, Any]:
    return api.agent(
        name,
        agent_type="memgpt_v2_agent",
        description="an agent with everything",
        memory_blocks=[
            {"label": "human", "value": "Sam", "limit": 500, "description": "who"},
            {"label": "persona", "value": "helpful", "read_only": True},
        ],
        tags=["alpha", "beta"],
        tool_rules=[TERMINAL_RULE],
        metadata={"k": "v"},
    )


def group_body(kind: str, members: list[str], manager: str) -> dict[str, Any]:
    config: dict[str, Any] = {"manager_type": kind}
    if kind != "round_robin":
        config["manager_agent_id"] = manager
    if kind == "round_robin":
        config["max_turns"] = 3
    if kind == "dynamic":
        config.update(termination_token="STOP", max_turns=4)
    if kind == "sleeptime":
        config["sleeptime_agent_frequency"] = 2
    if kind == "voice_sleeptime":
        config.update(max_message_buffer_length=10, min_message_buffer_length=5)
    return {"agent_ids": members, "description": f"{kind} group", "manager_config": config}


MANAGER_TYPES = ("round_robin", "supervisor", "dynamic", "sleeptime", "voice_sleeptime")


class World:
    """A block, two member agents, a manager agent and a round-robin group sharing the block."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.block = api.block("shared", "shared value", limit=1000, description="team notes")
        self.alice = rich_agent(api, "alice")
        self.bob = api.agent("bob", block_ids=[self.block["id"]], tags=["beta"])
        self.boss = api.agent("boss", agent_type="memgpt_agent")
        self.group = api.group(
            [self.alice["id"], self.bob["id"]], shared_block_ids=[self.block["id"]]
        )


@pytest.fixture
def world(api: Api) -> World:
    return World(api)


def finished_run(client: TestClient, world: World) -> str:
    """A run of a test job on a member agent, created and executed through RunService."""
    runs = client.app.state.services.runs  # type: ignore[attr-defined]
    runs.register("schema-test", lambda tenant, run: runs.agent_turn(tenant, run))
    run = runs.create(
        "default", world.alice["id"], {"kind": "schema-test", "input": "note this"}, {"k": "v"}
    )
    runs.execute("default", run.id)
    return run.id


Scenario = Callable[[TestClient, World], httpx.Response]

SCENARIOS: dict[tuple[str, str], Scenario] = {
    ("POST", "/v1/agents/"): lambda c, w: c.post(
        "/v1/agents/",
        json={
            "name": "created",
            "agent_type": "memgpt_v2_agent",
            "memory_blocks": [{"label": "human", "value": "Ann"}],
            "block_ids": [w.block["id"]],
            "tags": ["t"],
            "tool_rules": [TERMINAL_RULE],
        },
    ),
    ("GET", "/v1/agents/"): lambda c, w: c.get("/v1/agents/"),
    ("GET", "/v1/agents/{agent_id}"): lambda c, w: c.get(f"/v1/agents/{w.alice['id']}"),
    ("PATCH", "/v1/agents/{agent_id}"): lambda c, w: c.patch(
        f"/v1/agents/{w.alice['id']}",
        json={"name": "alice2", "tags": ["gamma"], "description": None, "tool_rules": []},
    ),
    ("DELETE", "/v1/agents/{agent_id}"): lambda c, w: c.delete(f"/v1/agents/{w.bob['id']}"),
    ("GET", "/v1/agents/{agent_id}/groups"): lambda c, w: c.get(
        f"/v1/agents/{w.alice['id']}/groups"
    ),
    ("POST", "/v1/agents/{agent_id}/messages"): lambda c, w: c.post(
        f"/v1/agents/{w.boss['id']}/messages",
        json={"input": "remember that the launch is on Friday", "use_assistant_message": False},
    ),
    ("GET", "/v1/agents/{agent_id}/messages"): lambda c, w: (
        c.post(f"/v1/agents/{w.alice['id']}/messages", json={"input": "hi, remember me"}),
        c.get(f"/v1/agents/{w.alice['id']}/messages"),
    )[1],
    ("POST", "/v1/agents/{agent_id}/messages/stream"): lambda c, w: c.post(
        f"/v1/agents/{w.boss['id']}/messages/stream", json={"input": "hello"}
    ),
    ("PATCH", "/v1/agents/{agent_id}/core-memory/blocks/attach/{block_id}"): lambda c, w: c.patch(
        f"/v1/agents/{w.boss['id']}/core-memory/blocks/attach/{w.block['id']}"
    ),
    ("GET", "/v1/agents/{agent_id}/core-memory/blocks"): lambda c, w: c.get(
        f"/v1/agents/{w.alice['id']}/core-memory/blocks"
    ),
    ("GET", "/v1/agents/{agent_id}/core-memory/blocks/{block_label}"): lambda c, w: c.get(
        f"/v1/agents/{w.alice['id']}/core-memory/blocks/human"
    ),
    ("PATCH", "/v1/agents/{agent_id}/core-memory/blocks/{block_label}"): lambda c, w: c.patch(
        f"/v1/agents/{w.alice['id']}/core-memory/blocks/human",
        json={"value": "Alice likes tea", "description": None, "metadata": {"k": 1}},
    ),
    ("GET", "/v1/blocks/{block_id}/agents"): lambda c, w: c.get(
        f"/v1/blocks/{w.block['id']}/agents", params={"include_relationships": ["memory"]}
    ),
    ("PATCH", "/v1/agents/{agent_id}/core-memory/blocks/detach/{block_id}"): lambda c, w: c.patch(
        f"/v1/agents/{w.bob['id']}/core-memory/blocks/detach/{w.block['id']}"
    ),
    ("POST", "/v1/blocks/"): lambda c, w: c.post(
        "/v1/blocks/",
        json={"label": "notes", "value": "x", "limit": 100, "metadata": {"a": 1}, "tags": ["t"]},
    ),
    ("GET", "/v1/blocks/"): lambda c, w: c.get("/v1/blocks/"),
    ("GET", "/v1/blocks/{block_id}"): lambda c, w: c.get(f"/v1/blocks/{w.block['id']}"),
    ("PATCH", "/v1/blocks/{block_id}"): lambda c, w: c.patch(
        f"/v1/blocks/{w.block['id']}", json={"value": "new", "description": None}
    ),
    ("DELETE", "/v1/blocks/{block_id}"): lambda c, w: c.delete(f"/v1/blocks/{w.block['id']}"),
    ("POST", "/v1/groups/"): lambda c, w: c.post(
        "/v1/groups/", json=group_body("supervisor", [w.bob["id"]], w.boss["id"])
    ),
    ("GET", "/v1/groups/"): lambda c, w: c.get("/v1/groups/"),
    ("GET", "/v1/groups/count"): lambda c, w: c.get("/v1/groups/count"),
    ("GET", "/v1/groups/{group_id}"): lambda c, w: c.get(f"/v1/groups/{w.group['id']}"),
    ("PATCH", "/v1/groups/{group_id}"): lambda c, w: c.patch(
        f"/v1/groups/{w.group['id']}",
        json={"description": "renamed", "project_id": None, "agent_ids": [w.bob["id"]]},
    ),
    ("DELETE", "/v1/groups/{group_id}"): lambda c, w: c.delete(f"/v1/groups/{w.group['id']}"),
    ("PATCH", "/v1/groups/{group_id}/blocks/attach/{block_id}"): lambda c, w: c.patch(
        f"/v1/groups/{w.group['id']}/blocks/attach/{w.api.block('extra')['id']}"
    ),
    ("PATCH", "/v1/groups/{group_id}/blocks/detach/{block_id}"): lambda c, w: c.patch(
        f"/v1/groups/{w.group['id']}/blocks/detach/{w.block['id']}"
    ),
    ("GET", "/v1/runs/{run_id}"): lambda c, w: c.get(f"/v1/runs/{finished_run(c, w)}"),
    ("DELETE", "/v1/runs/{run_id}"): lambda c, w: c.delete(f"/v1/runs/{finished_run(c, w)}"),
    ("GET", "/v1/runs/{run_id}/messages"): lambda c, w: c.get(
        f"/v1/runs/{finished_run(c, w)}/messages"
    ),
    ("GET", "/v1/runs/"): lambda c, w: (finished_run(c, w), c.get("/v1/runs/"))[1],
    ("GET", "/v1/runs/active"): lambda c, w: c.get("/v1/runs/active"),
    ("GET", "/v1/runs/{run_id}/usage"): lambda c, w: c.get(f"/v1/runs/{finished_run(c, w)}/usage"),
    ("GET", "/v1/runs/{run_id}/steps"): lambda c, w: c.get(f"/v1/runs/{finished_run(c, w)}/steps"),
    ("POST", "/v1/runs/{run_id}/stream"): lambda c, w: c.post(
        f"/v1/runs/{finished_run(c, w)}/stream", json={"starting_after": 0}
    ),
    ("POST", "/v1/agents/{agent_id}/messages/async"): lambda c, w: c.post(
        f"/v1/agents/{w.alice['id']}/messages/async", json={"input": "later"}
    ),
    ("POST", "/v1/agents/{agent_id}/messages/cancel"): lambda c, w: c.post(
        f"/v1/agents/{w.alice['id']}/messages/cancel", json={"run_ids": [finished_run(c, w)]}
    ),
    ("GET", "/v1/health/"): lambda c, w: c.get("/v1/health/"),
    ("POST", "/v1/groups/{group_id}/messages"): lambda c, w: c.post(
        f"/v1/groups/{w.group['id']}/messages", json={"input": "hello team, remember tea"}
    ),
    ("POST", "/v1/groups/{group_id}/messages/stream"): lambda c, w: c.post(
        f"/v1/groups/{w.group['id']}/messages/stream", json={"input": "hello"}
    ),
    ("GET", "/v1/groups/{group_id}/messages"): lambda c, w: (
        c.post(f"/v1/groups/{w.group['id']}/messages", json={"input": "hello"}),
        c.get(f"/v1/groups/{w.group['id']}/messages", params={"limit": 50}),
    )[1],
    ("PATCH", "/v1/groups/{group_id}/messages/{message_id}"): lambda c, w: c.patch(
        f"/v1/groups/{w.group['id']}/messages/"
        + c.post(f"/v1/groups/{w.group['id']}/messages", json={"input": "hi"}).json()["messages"][
            -1
        ]["id"],
        json={"message_type": "assistant_message", "content": "edited"},
    ),
    ("PATCH", "/v1/groups/{group_id}/reset-messages"): lambda c, w: c.patch(
        f"/v1/groups/{w.group['id']}/reset-messages"
    ),
}


def served_operations(client: TestClient) -> set[tuple[str, str]]:
    """(METHOD, path) of every operation in the app's own OpenAPI document."""
    paths = client.app.openapi()["paths"]
    return {(m.upper(), path) for path, ops in paths.items() for m in ops if m in METHODS}


@pytest.mark.parametrize("op", REFERENCE_OPS, ids=" ".join)
def test_every_served_reference_operation_has_a_schema_scenario(
    client: TestClient, op: tuple[str, str]
) -> None:
    assert op in served_operations(client), f"{op} is in Letta's reference but not served"
    assert op in SCENARIOS, f"{op} is served but has no response-schema scenario"


# Routes Letta's group API never had but its users need (issue #8): the group twins of the
# agent async and cancel routes, answering as those do (tests/api/test_async_runs.py).
EXTENSIONS = {
    ("POST", "/v1/groups/{group_id}/messages/async"),
    ("POST", "/v1/groups/{group_id}/messages/cancel"),
}


def test_app_serves_only_reference_paths_and_every_scenario_route(client: TestClient) -> None:
    served = served_operations(client)
    assert served - set(REFERENCE_OPS) - EXTENSIONS == set(), "routes outside Letta's paths"
    assert set(SCENARIOS) <= served, "a scenario names a route the app does not serve"


@pytest.mark.parametrize("op", sorted(SCENARIOS), ids=" ".join)
def test_response_matches_reference_schema(
    client: TestClient, world: World, op: tuple[str, str]
) -> None:
    response = SCENARIOS[op](client, world)
    if op[1].endswith("/stream"):
        assert_valid_stream(response)
    else:
        assert_valid(*op, response)


def component_validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": BASE + "#" + _pointer("components", "schemas", name)},
        registry=REGISTRY,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def assert_valid_stream(response: httpx.Response) -> None:
    """SSE: each message frame is a LettaMessageUnion, then a LettaStopReason, a
    LettaUsageStatistics and [DONE] (the reference has no schema for the stream itself)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = [
        line.removeprefix("data: ")
        for line in response.text.split("\n\n")
        if line.startswith("data: ")
    ]
    assert frames[-1] == "[DONE]", frames[-3:]
    *messages, stop, usage = (json.loads(f) for f in frames[:-1])
    assert messages, "no message frames"
    for frame in messages:
        assert not list(component_validator("LettaMessageUnion").iter_errors(frame)), frame
    assert not list(component_validator("LettaStopReason").iter_errors(stop)), stop
    assert not list(component_validator("LettaUsageStatistics").iter_errors(usage)), usage


def test_list_bodies_are_non_empty_and_every_item_validates(
    client: TestClient, world: World
) -> None:
    rich_agent(world.api, "carol")
    for path, url in [
        ("/v1/agents/", "/v1/agents/"),
        ("/v1/blocks/", "/v1/blocks/"),
        ("/v1/groups/", "/v1/groups/"),
        ("/v1/agents/{agent_id}/groups", f"/v1/agents/{world.bob['id']}/groups"),
        ("/v1/runs/{run_id}/messages", f"/v1/runs/{finished_run(client, world)}/messages"),
    ]:
        assert len(assert_valid("GET", path, client.get(url))) >= 1, url


def test_rich_agent_round_trips_with_rules_tags_and_blocks(
    client: TestClient, world: World
) -> None:
    body = assert_valid(
        "GET", "/v1/agents/{agent_id}", client.get(f"/v1/agents/{world.alice['id']}")
    )
    assert body["agent_type"] == "memgpt_v2_agent"
    assert sorted(body["tags"]) == ["alpha", "beta"]
    assert TERMINAL_RULE in [
        {k: v for k, v in rule.items() if k in ("type", "tool_name")} for rule in body["tool_rules"]
    ]
    assert {b["label"] for b in body["memory"]["blocks"]} >= {"human", "persona"}
    assert {b["label"] for b in body["blocks"]} >= {"human", "persona"}
    bob = assert_valid("GET", "/v1/agents/{agent_id}", client.get(f"/v1/agents/{world.bob['id']}"))
    assert world.block["id"] in {b["id"] for b in bob["blocks"]}


@pytest.mark.parametrize("kind", MANAGER_TYPES)
def test_every_manager_type_validates_on_create_get_list_patch(
    client: TestClient, world: World, kind: str
) -> None:
    body = group_body(kind, [world.bob["id"]], world.boss["id"])
    created = assert_valid("POST", "/v1/groups/", client.post("/v1/groups/", json=body))
    assert created["manager_type"] == kind
    if kind != "round_robin":
        assert created["manager_agent_id"] == world.boss["id"]
    if kind == "voice_sleeptime":
        assert (created["max_message_buffer_length"], created["min_message_buffer_length"]) == (
            10,
            5,
        )
    url = f"/v1/groups/{created['id']}"
    assert assert_valid("GET", "/v1/groups/{group_id}", client.get(url)) == created
    listed = assert_valid(
        "GET", "/v1/groups/", client.get("/v1/groups/", params={"manager_type": kind})
    )
    assert created["id"] in [g["id"] for g in listed]
    assert {g["manager_type"] for g in listed} == {kind}
    patched = assert_valid(
        "PATCH",
        "/v1/groups/{group_id}",
        client.patch(
            url, json={"description": "changed", "manager_config": {"manager_type": kind}}
        ),
    )
    assert patched["description"] == "changed"
    groups = client.get(f"/v1/agents/{world.boss['id']}/groups")
    expected = [] if kind == "round_robin" else [created["id"]]
    assert [
        g["id"] for g in assert_valid("GET", "/v1/agents/{agent_id}/groups", groups)
    ] == expected


def test_agent_with_group_validates(client: TestClient, world: World) -> None:
    """An agent in a group (multi_agent_group/managed_group may be filled) still validates."""
    client.post("/v1/groups/", json=group_body("dynamic", [world.alice["id"]], world.boss["id"]))
    for agent in (world.alice, world.boss, world.bob):
        assert_valid("GET", "/v1/agents/{agent_id}", client.get(f"/v1/agents/{agent['id']}"))
    assert_valid("GET", "/v1/agents/", client.get("/v1/agents/"))


def test_count_matches_list(client: TestClient, world: World) -> None:
    client.post("/v1/groups/", json=group_body("round_robin", [world.boss["id"]], ""))
    count = assert_valid("GET", "/v1/groups/count", client.get("/v1/groups/count"))
    assert count == len(client.get("/v1/groups/").json()) == 2


def test_attach_detach_reflected_in_shared_block_ids(client: TestClient, world: World) -> None:
    extra = world.api.block("extra")
    url = f"/v1/groups/{world.group['id']}"
    path = "/v1/groups/{group_id}/blocks/{verb}/{block_id}"
    attach = client.patch(f"{url}/blocks/attach/{extra['id']}")
    assert_valid(
        "PATCH", path.format(verb="attach", group_id="{group_id}", block_id="{block_id}"), attach
    )
    assert extra["id"] in client.get(url).json()["shared_block_ids"]
    detach = client.patch(f"{url}/blocks/detach/{extra['id']}")
    assert_valid(
        "PATCH", path.format(verb="detach", group_id="{group_id}", block_id="{block_id}"), detach
    )
    assert extra["id"] not in client.get(url).json()["shared_block_ids"]


def test_delete_bodies_carry_a_message(client: TestClient, world: World) -> None:
    for path, url in [
        ("/v1/groups/{group_id}", f"/v1/groups/{world.group['id']}"),
        ("/v1/agents/{agent_id}", f"/v1/agents/{world.bob['id']}"),
        ("/v1/blocks/{block_id}", f"/v1/blocks/{world.block['id']}"),
    ]:
        body = assert_valid("DELETE", path, client.delete(url))
        assert isinstance(body, dict) and isinstance(body.get("message"), str), body
        assert client.get(url).status_code == 404


BAD_AGENT = "agent-NOT-A-UUID"
UNPROCESSABLE: list[tuple[str, str, Callable[[World], tuple[str, dict[str, Any] | None]]]] = [
    ("POST", "/v1/agents/", lambda w: ("/v1/agents/", {"name": ""})),
    ("POST", "/v1/agents/", lambda w: ("/v1/agents/", {"tool_rules": [{"type": "bogus"}]})),
    ("POST", "/v1/agents/", lambda w: ("/v1/agents/", {"model": "nope/x"})),
    ("GET", "/v1/agents/", lambda w: ("/v1/agents/?limit=0", None)),
    ("GET", "/v1/agents/{agent_id}", lambda w: (f"/v1/agents/{BAD_AGENT}", None)),
    ("PATCH", "/v1/agents/{agent_id}", lambda w: (f"/v1/agents/{w.alice['id']}", {"name": 3})),
    ("POST", "/v1/blocks/", lambda w: ("/v1/blocks/", {"label": "x"})),
    ("PATCH", "/v1/blocks/{block_id}", lambda w: (f"/v1/blocks/{w.block['id']}", {"label": None})),
    ("POST", "/v1/groups/", lambda w: ("/v1/groups/", {"agent_ids": []})),
    (
        "POST",
        "/v1/groups/",
        lambda w: ("/v1/groups/", {"agent_ids": [BAD_AGENT], "description": ""}),
    ),
    ("GET", "/v1/groups/", lambda w: ("/v1/groups/?manager_type=bogus", None)),
    (
        "PATCH",
        "/v1/groups/{group_id}",
        lambda w: (f"/v1/groups/{w.group['id']}", {"description": None}),
    ),
    (
        "PATCH",
        "/v1/groups/{group_id}/blocks/attach/{block_id}",
        lambda w: (f"/v1/groups/{w.group['id']}/blocks/attach/block-x", None),
    ),
    ("GET", "/v1/runs/{run_id}", lambda w: ("/v1/runs/run-x", None)),
    ("DELETE", "/v1/runs/{run_id}", lambda w: (f"/v1/runs/job-{w.alice['id'][6:]}", None)),
    ("GET", "/v1/runs/{run_id}/messages", lambda w: ("/v1/runs/run-x/messages?limit=0", None)),
]


@pytest.mark.parametrize(
    ("method", "path", "make"),
    UNPROCESSABLE,
    ids=[f"{m} {p} #{i}" for i, (m, p, _) in enumerate(UNPROCESSABLE)],
)
def test_422_bodies_match_http_validation_error(
    client: TestClient,
    world: World,
    method: str,
    path: str,
    make: Callable[[World], tuple[str, dict[str, Any] | None]],
) -> None:
    url, body = make(world)
    response = (
        client.request(method, url, json=body) if body is not None else client.request(method, url)
    )
    detail = assert_valid(method, path, response, status=422)["detail"]
    assert detail and all(item["loc"] for item in detail), detail
