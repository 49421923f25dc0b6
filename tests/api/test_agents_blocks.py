"""Agent and block behaviour through the HTTP API: defaults, echo, validation, modify."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from handler.app import create_app
from handler.composition import build_services
from infra.settings import Settings
from tests.conftest import Api


def test_agent_defaults(api: Api) -> None:
    agent = api.ok("POST", "/v1/agents/", json={})
    assert agent["name"] and agent["agent_type"] == "letta_v1_agent"
    assert agent["model"] == "offline/default"
    assert agent["llm_config"]["handle"] == "offline/default"
    assert agent["system"]
    assert {t["name"] for t in agent["tools"]} >= {"memory_replace", "conversation_search"}
    assert "send_message" not in {t["name"] for t in agent["tools"]}


def test_agent_echoes_what_the_sdk_sends(api: Api) -> None:
    body = {
        "name": "planner",
        "system": "You plan.",
        "agent_type": "memgpt_v2_agent",
        "model": "anthropic/claude-sonnet-4",
        "embedding": "openai/text-embedding-3-small",
        "memory_blocks": [{"label": "persona", "value": "I plan.", "limit": 500}],
        "tags": ["team-a", "planner"],
        "description": "Plans things",
        "metadata": {"owner": "ops"},
        "tool_rules": [{"type": "exit_loop", "tool_name": "send_message"}],
        "enable_sleeptime": False,
        "timezone": "Europe/Paris",
        "context_window_limit": 50000,
    }
    agent = api.ok("POST", "/v1/agents/", json=body)
    for field in (
        "name",
        "system",
        "agent_type",
        "model",
        "embedding",
        "tags",
        "description",
        "metadata",
        "enable_sleeptime",
        "timezone",
    ):
        assert agent[field] == body[field], field
    assert agent["tool_rules"] == [
        {"type": "exit_loop", "tool_name": "send_message", "prompt_template": None}
    ]
    assert agent["llm_config"]["model_endpoint_type"] == "anthropic"
    assert agent["llm_config"]["context_window"] == 50000
    assert "send_message" in {t["name"] for t in agent["tools"]}
    (block,) = agent["blocks"]
    assert (block["label"], block["value"], block["limit"]) == ("persona", "I plan.", 500)
    assert agent["memory"]["blocks"] == agent["blocks"]
    assert api.ok("GET", f"/v1/agents/{agent['id']}") == agent
    assert api.ok("GET", f"/v1/blocks/{block['id']}")["value"] == "I plan."


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"model": "mystery/model-1"}, ["body", "model"]),
        ({"model": "no-slash"}, ["body", "model"]),
        ({"agent_type": "workflow_agent"}, ["body", "agent_type"]),
        ({"agent_type": "nonsense"}, ["body", "agent_type"]),
        ({"tools": ["send_message", "run_shell"]}, ["body", "tools", 1]),
        (
            {"memory_blocks": [{"label": "x", "value": "abcdef", "limit": 3}]},
            ["body", "memory_blocks", 0],
        ),
        (
            {"tool_rules": [{"type": "exit_loop"}]},
            ["body", "tool_rules", 0, "exit_loop", "tool_name"],
        ),
    ],
)
def test_bad_agent_input_is_422_naming_the_field(api: Api, body: dict, loc: list) -> None:
    response = api.client.post("/v1/agents/", json=body)
    assert response.status_code == 422, response.text
    assert loc in [e["loc"] for e in response.json()["detail"]]
    assert api.ok("GET", "/v1/agents/") == []


def test_unknown_provider_message_lists_known_ones(api: Api) -> None:
    detail = api.client.post("/v1/agents/", json={"model": "mystery/x"}).json()["detail"]
    assert "openai" in detail[0]["msg"] and "mystery" in detail[0]["msg"]


def test_duplicate_block_labels_are_400_and_nothing_is_written(api: Api) -> None:
    taken = api.block("human", "existing")
    response = api.client.post(
        "/v1/agents/",
        json={"memory_blocks": [{"label": "human", "value": "new"}], "block_ids": [taken["id"]]},
    )
    assert response.status_code == 400
    assert [b["id"] for b in api.ok("GET", "/v1/blocks/")] == [taken["id"]]
    assert api.ok("GET", "/v1/agents/") == []


def test_modify_agent_applies_only_sent_fields(api: Api) -> None:
    agent = api.agent("a", description="d", tags=["x"], metadata={"k": 1})
    path = f"/v1/agents/{agent['id']}"
    changed = api.ok("PATCH", path, json={"description": None, "tags": ["y", "z"]})
    assert changed["description"] is None and changed["tags"] == ["y", "z"]
    assert changed["name"] == "a" and changed["metadata"] == {"k": 1}
    assert api.client.patch(path, json={"name": None}).status_code == 422
    assert api.client.patch(path, json={"model": "mystery/x"}).status_code == 422
    moved = api.ok("PATCH", path, json={"model": "openai/gpt-4o-mini"})
    assert moved["llm_config"]["handle"] == "openai/gpt-4o-mini"
    assert moved["llm_config"]["context_window"] == 128000


def test_modify_agent_block_ids_replaces_and_keeps_links_consistent(api: Api) -> None:
    first, second = api.block("one"), api.block("two")
    agent = api.agent("a", block_ids=[first["id"]])
    changed = api.ok("PATCH", f"/v1/agents/{agent['id']}", json={"block_ids": [second["id"]]})
    assert [b["id"] for b in changed["blocks"]] == [second["id"]]
    api.ok("DELETE", f"/v1/blocks/{second['id']}")
    assert api.ok("GET", f"/v1/agents/{agent['id']}")["blocks"] == []


def test_tool_ids_round_trip(api: Api) -> None:
    agent = api.agent("a", agent_type="memgpt_agent")
    send = next(t for t in agent["tools"] if t["name"] == "send_message")
    changed = api.ok("PATCH", f"/v1/agents/{agent['id']}", json={"tool_ids": [send["id"]]})
    assert [t["name"] for t in changed["tools"]] == ["send_message"]
    missing = "tool-00000000-0000-4000-8000-000000000000"
    response = api.client.patch(f"/v1/agents/{agent['id']}", json={"tool_ids": [missing]})
    assert response.status_code == 404


def test_agent_list_filters(api: Api) -> None:
    a = api.agent("Alpha", tags=["red", "big"])
    b = api.agent("beta", tags=["red"])
    api.agent("gamma", tags=["blue"])

    def names(**params: object) -> list[str]:
        return sorted(x["name"] for x in api.ok("GET", "/v1/agents/", params=params))

    assert names(tags=["red"]) == ["Alpha", "beta"]
    assert names(tags=["red", "big"], match_all_tags=True) == ["Alpha"]
    assert names(name="beta") == ["beta"]
    assert names(query_text="ALP") == ["Alpha"]
    assert a["id"] != b["id"]


def test_block_limits_and_modify(api: Api) -> None:
    block = api.block("notes", "hello", limit=10, read_only=True, description="d")
    assert block["read_only"] is True and block["limit"] == 10
    path = f"/v1/blocks/{block['id']}"
    assert api.client.patch(path, json={"value": "x" * 11}).status_code == 422
    assert api.client.patch(path, json={"limit": 3}).status_code == 422
    assert api.client.patch(path, json={"value": None}).status_code == 422
    changed = api.ok("PATCH", path, json={"value": "bye", "description": None})
    assert (changed["value"], changed["description"], changed["limit"]) == ("bye", None, 10)
    assert api.ok("GET", path) == changed
    assert api.client.post("/v1/blocks/", json={"value": "no label"}).status_code == 422


def test_block_list_filters(api: Api) -> None:
    api.block("human", "Sam likes tea")
    api.block("persona", "I am helpful", is_template=True)
    labels = lambda **p: [b["label"] for b in api.ok("GET", "/v1/blocks/", params=p)]  # noqa: E731
    assert labels(label="human") == ["human"]
    assert labels(templates_only=True) == ["persona"]
    assert labels(value_search="TEA") == ["human"]


def test_tenants_are_isolated_and_keys_required(settings: Settings) -> None:
    keyed = settings.model_copy(update={"api_keys": "alice:key-a,bob:key-b"})
    client = TestClient(create_app(build_services(keyed)))
    alice = {"Authorization": "Bearer key-a"}
    bob = {"Authorization": "Bearer key-b"}
    assert client.get("/v1/agents/").status_code == 401
    assert client.get("/v1/agents/", headers={"Authorization": "Bearer nope"}).status_code == 401
    agent = client.post("/v1/agents/", json={"name": "a"}, headers=alice).json()
    assert client.get(f"/v1/agents/{agent['id']}", headers=bob).status_code == 404
    assert client.get("/v1/agents/", headers=bob).json() == []
    response = client.post(
        "/v1/groups/", json={"agent_ids": [agent["id"]], "description": "d"}, headers=bob
    )
    assert response.status_code == 404
    assert client.get(f"/v1/agents/{agent['id']}", headers=alice).status_code == 200


def test_a_group_cannot_name_another_tenants_manager_or_blocks(settings: Settings) -> None:
    """SPEC §2: member and manager ids (and shared blocks) must exist in the caller's
    tenant; another tenant's are unknown here (404), at create and at modify."""
    keyed = settings.model_copy(update={"api_keys": "alice:key-a,bob:key-b"})
    client = TestClient(create_app(build_services(keyed)))
    alice = {"Authorization": "Bearer key-a"}
    bob = {"Authorization": "Bearer key-b"}

    def made(path: str, body: dict[str, object], headers: dict[str, str]) -> str:
        answer = client.post(path, json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["id"])

    her_agent = made("/v1/agents/", {"name": "boss"}, alice)
    her_block = made("/v1/blocks/", {"label": "notes", "value": "v"}, alice)
    his_agent = made("/v1/agents/", {"name": "worker"}, bob)
    supervised = {"manager_type": "supervisor", "manager_agent_id": her_agent}
    for body in (
        {"agent_ids": [his_agent], "description": "d", "manager_config": supervised},
        {"agent_ids": [his_agent], "description": "d", "shared_block_ids": [her_block]},
    ):
        refused = client.post("/v1/groups/", json=body, headers=bob)
        assert refused.status_code == 404, refused.text
    group = made("/v1/groups/", {"agent_ids": [his_agent], "description": "d"}, bob)
    changed = client.patch(
        f"/v1/groups/{group}", json={"shared_block_ids": [her_block]}, headers=bob
    )
    assert changed.status_code == 404, changed.text
    assert client.get("/v1/groups/", headers=alice).json() == []
    assert client.get(f"/v1/groups/{group}", headers=bob).json()["shared_block_ids"] == []


def test_attach_core_memory_block_reaches_the_agent_once(api: Api) -> None:
    agent = api.agent("a")
    block = api.block("notes", "n")
    path = f"/v1/agents/{agent['id']}/core-memory/blocks/attach/{block['id']}"
    attached = api.ok("PATCH", path)
    assert [b["id"] for b in attached["blocks"]] == [block["id"]]
    assert [b["id"] for b in api.ok("PATCH", path)["blocks"]] == [block["id"]]
    clash = api.block("notes", "other")
    response = api.client.patch(f"/v1/agents/{agent['id']}/core-memory/blocks/attach/{clash['id']}")
    assert response.status_code == 400


def test_agent_send_streams_when_asked(api: Api) -> None:
    agent = api.agent("streamer")
    for response in (
        api.client.post(f"/v1/agents/{agent['id']}/messages/stream", json={"input": "hi"}),
        api.client.post(
            f"/v1/agents/{agent['id']}/messages", json={"input": "hi", "streaming": True}
        ),
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        frames = [f for f in response.text.split("\n\n") if f.startswith("data: ")]
        kinds = [json.loads(f[6:])["message_type"] for f in frames[:-1]]
        assert kinds == [
            "reasoning_message",
            "assistant_message",
            "stop_reason",
            "usage_statistics",
        ]
        assert frames[-1] == "data: [DONE]"


def test_core_memory_reads_list_an_agents_blocks_and_find_one_by_label(api: Api) -> None:
    shared = api.block("notes", "team notes")
    agent = api.agent(
        "keeper",
        memory_blocks=[{"label": "human", "value": "Sam"}, {"label": "persona", "value": "kind"}],
        block_ids=[shared["id"]],
    )
    base = f"/v1/agents/{agent['id']}/core-memory/blocks"

    listed = api.ok("GET", base)
    assert [b["label"] for b in listed] == [b["label"] for b in agent["blocks"]]
    assert {b["label"] for b in listed} == {"human", "persona", "notes"}
    assert api.ok("GET", f"{base}/notes") == api.ok("GET", f"/v1/blocks/{shared['id']}")
    assert api.ok("GET", f"{base}/human")["value"] == "Sam"

    missing = api.client.get(f"{base}/nothing")
    assert missing.status_code == 404 and "nothing" in missing.json()["detail"]
    unknown = f"/v1/agents/agent-{'0' * 8}-0000-4000-8000-{'0' * 12}/core-memory/blocks"
    assert api.client.get(unknown).status_code == 404
    assert api.client.get("/v1/agents/not-an-id/core-memory/blocks").status_code == 422


def test_modify_block_by_label_changes_the_agents_block_for_every_holder(api: Api) -> None:
    """Letta's Modify Block on core memory: the agent's block with that label, changed as
    PATCH /v1/blocks/{id} changes it; a block shared with another agent changes for both."""
    shared = api.block("notes", "team notes")
    keeper = api.agent("keeper", memory_blocks=[{"label": "human", "value": "Sam"}])
    other = api.agent("other", block_ids=[shared["id"]])
    api.ok("PATCH", f"/v1/agents/{keeper['id']}/core-memory/blocks/attach/{shared['id']}")
    base = f"/v1/agents/{keeper['id']}/core-memory/blocks"

    changed = api.ok("PATCH", f"{base}/notes", json={"value": "new notes", "limit": 500})
    assert (changed["id"], changed["value"], changed["limit"]) == (shared["id"], "new notes", 500)
    assert api.ok("GET", f"/v1/blocks/{shared['id']}") == changed
    held = api.ok("GET", f"/v1/agents/{other['id']}/core-memory/blocks/notes")
    assert held["value"] == "new notes"
    assert api.ok("GET", f"{base}/human")["value"] == "Sam"  # only the named block changes

    assert api.client.patch(f"{base}/nothing", json={"value": "x"}).status_code == 404
    too_long = api.client.patch(f"{base}/notes", json={"value": "x" * 501})
    assert too_long.status_code == 422 and "value" in json.dumps(too_long.json())
    clash = api.client.patch(f"{base}/notes", json={"label": "human"})
    assert clash.status_code == 400
    assert api.ok("GET", f"/v1/blocks/{shared['id']}") == changed  # refused: nothing written


def test_agents_for_block_lists_every_holder_until_it_is_detached(api: Api) -> None:
    shared = api.block("notes", "team notes")
    ann = api.agent("ann", block_ids=[shared["id"]])
    bob = api.agent("bob")
    api.agent("cy")
    api.ok("PATCH", f"/v1/agents/{bob['id']}/core-memory/blocks/attach/{shared['id']}")
    path = f"/v1/blocks/{shared['id']}/agents"

    holders = api.ok("GET", path)
    assert [a["name"] for a in holders] == ["ann", "bob"]
    assert shared["id"] in {b["id"] for b in holders[1]["blocks"]}
    assert api.ok("GET", path, params={"include_relationships": ["memory"]}) == holders

    api.ok("PATCH", f"/v1/agents/{ann['id']}", json={"block_ids": []})
    assert [a["name"] for a in api.ok("GET", path)] == ["bob"]
    api.ok("DELETE", f"/v1/agents/{bob['id']}")
    assert api.ok("GET", path) == []
    api.ok("DELETE", f"/v1/blocks/{shared['id']}")
    assert api.client.get(path).status_code == 404
