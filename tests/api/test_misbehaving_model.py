"""Groups and legacy agents on a model that misbehaves, as Letta's own group tests run them.

The model is an OpenAI-compatible server on loopback (tests/sdk/tool_caller.py) that always
calls a tool: the one tool_choice names, else send_message when offered, else the first one.
Only the requests this service sends (which tools, which tool_choice, which schemas) keep
the conversation on course, so these tests see the request shape work end to end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from handler.app import create_app
from handler.composition import build_services
from infra.settings import Settings
from tests.conftest import TABLE, Api
from tests.sdk.fake_openai import FakeOpenAI

MODEL = "openai/tool-caller"
BROADCAST = "send_message_to_all_agents_in_group"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def api(aws: None, fake: FakeOpenAI) -> Iterator[Api]:
    settings = Settings(
        table_name=TABLE,
        aws_region="us-east-1",
        serialize_dynamodb_calls=True,
        openai_base_url=fake.base_url,
        openai_api_key="sk-fake",
    )
    with TestClient(create_app(build_services(settings))) as client:
        yield Api(client)


def _kinds(messages: list[dict[str, Any]]) -> list[str]:
    return [m["message_type"] for m in messages]


def test_supervisor_broadcasts_first_even_when_the_model_prefers_send_message(
    api: Api, fake: FakeOpenAI
) -> None:
    boss = api.agent("boss", agent_type="memgpt_v2_agent", model=f"{MODEL}-boss")
    workers = [api.agent(n, agent_type="memgpt_v2_agent", model=MODEL) for n in ("wes", "val")]
    group = api.group(
        [w["id"] for w in workers],
        manager_config={"manager_type": "supervisor", "manager_agent_id": boss["id"]},
    )

    response = api.ok(
        "POST",
        f"/v1/groups/{group['id']}/messages",
        json={"messages": [{"role": "user", "content": "how long?"}]},
    )

    messages = response["messages"]
    assert _kinds(messages) == [
        "reasoning_message",
        "tool_call_message",
        "tool_return_message",
        "reasoning_message",
        "assistant_message",
    ]
    assert {m["name"] for m in messages} == {"boss"}
    assert messages[1]["tool_call"]["name"] == BROADCAST
    entries = json.loads(messages[2]["tool_return"])
    assert [(e["name"], e["agent_id"]) for e in entries] == [
        ("wes", workers[0]["id"]),
        ("val", workers[1]["id"]),
    ]
    assert all(e["response"] for e in entries)
    assert response["stop_reason"]["stop_reason"] == "end_turn"
    # What made it so: the manager's first call offered the broadcast alone and named it,
    # the next one send_message alone.
    manager_calls = [r for r in fake.requests if r["model"] == "tool-caller-boss"]
    assert [[t["function"]["name"] for t in r["tools"]] for r in manager_calls] == [
        [BROADCAST],
        ["send_message"],
    ]
    assert [r["tool_choice"] for r in manager_calls] == [
        {"type": "function", "function": {"name": BROADCAST}},
        {"type": "function", "function": {"name": "send_message"}},
    ]


def test_memgpt_v2_agent_on_an_openai_model_reasons_at_every_step(
    api: Api, fake: FakeOpenAI
) -> None:
    agent = api.agent(
        "legacy",
        agent_type="memgpt_v2_agent",
        model=MODEL,
        tool_rules=[{"type": "run_first", "tool_name": "conversation_search"}],
    )

    response = api.ok(
        "POST",
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"role": "user", "content": "what did we say?"}]},
    )

    messages = response["messages"]
    assert _kinds(messages) == [
        "reasoning_message",
        "tool_call_message",
        "tool_return_message",
        "reasoning_message",
        "assistant_message",
    ]
    assert response["usage"]["step_count"] == 2
    assert messages[0]["reasoning"] == "I will call conversation_search."
    assert messages[3]["reasoning"] == "I will call send_message."
    # The thought left the call's arguments; the reply is the send_message argument.
    assert "thinking" not in json.loads(messages[1]["tool_call"]["arguments"])
    assert messages[4]["content"] == "send_message: what did we say?"
    sent = fake.requests[-2:]
    for request in sent:
        for tool in request["tools"]:
            parameters = tool["function"]["parameters"]
            assert list(parameters["properties"])[0] == "thinking"
            assert parameters["required"][0] == "thinking"
    forced = {"type": "function", "function": {"name": "conversation_search"}}
    assert sent[0]["tool_choice"] == forced
    assert sent[1]["tool_choice"] == "required"
    # The earlier call goes back to the model with its thought where the model wrote it.
    echoed = next(m for m in sent[1]["messages"] if m["role"] == "assistant")
    arguments = json.loads(echoed["tool_calls"][0]["function"]["arguments"])
    assert arguments["thinking"] == "I will call conversation_search."


def test_letta_v1_agent_gets_no_thinking_argument(api: Api, fake: FakeOpenAI) -> None:
    agent = api.agent("modern", agent_type="letta_v1_agent", model=MODEL)

    api.ok(
        "POST",
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"role": "user", "content": "hi"}]},
    )

    request = fake.requests[-1]
    assert request.get("tool_choice", "auto") == "auto"
    for tool in request.get("tools") or ():
        assert "thinking" not in tool["function"]["parameters"].get("properties", {})
