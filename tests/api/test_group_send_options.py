"""A group send honours the request's rendering and model options as an agent send does
(SPEC §3; Letta ignored `include_return_message_types` on groups, SPEC §8): the message
types returned, legacy agents' `send_message` rendering, and `enable_thinking` reaching
every model call of the send."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from handler.app import create_app
from handler.composition import build_services
from infra.settings import Settings
from tests.conftest import Api
from tests.fakes import RecordingModel


@pytest.fixture
def recorded(settings: Settings) -> Iterator[tuple[Api, RecordingModel]]:
    model = RecordingModel()
    with TestClient(create_app(build_services(settings, model=model))) as client:
        yield Api(client), model


def _legacy_group(api: Api) -> str:
    """Two memgpt agents: they answer through the send_message tool."""
    members = [api.agent(n, agent_type="memgpt_v2_agent")["id"] for n in ("ann", "bob")]
    return str(api.group(members)["id"])


def _kinds(messages: list[dict[str, Any]]) -> list[str]:
    return [m["message_type"] for m in messages]


def test_a_group_send_renders_legacy_replies_as_the_request_asks(
    recorded: tuple[Api, RecordingModel],
) -> None:
    api, _ = recorded
    path = f"/v1/groups/{_legacy_group(api)}/messages"

    default = api.ok("POST", path, json={"input": "hi"})["messages"]
    assert _kinds(default).count("assistant_message") == 2  # send_message, as Letta shows it

    raw = api.ok("POST", path, json={"input": "hi", "use_assistant_message": False})["messages"]
    assert "assistant_message" not in _kinds(raw)
    calls = [m["tool_call"]["name"] for m in raw if m["message_type"] == "tool_call_message"]
    assert calls == ["send_message", "send_message"]

    other = api.ok("POST", path, json={"input": "hi", "assistant_message_tool_name": "reply_tool"})[
        "messages"
    ]
    assert "assistant_message" not in _kinds(other)  # only the named tool is a reply


def test_a_group_send_returns_only_the_message_types_asked_for(
    recorded: tuple[Api, RecordingModel],
) -> None:
    api, _ = recorded
    group = _legacy_group(api)
    only = {"input": "hi", "include_return_message_types": ["assistant_message"]}

    sent = api.ok("POST", f"/v1/groups/{group}/messages", json=only)
    assert _kinds(sent["messages"]) == ["assistant_message", "assistant_message"]

    streamed = api.client.post(f"/v1/groups/{group}/messages/stream", json=only)
    frames = [
        json.loads(line[len("data: ") :])
        for line in streamed.text.splitlines()
        if line.startswith("data: {")
    ]
    assert _kinds(frames) == ["assistant_message", "assistant_message", "stop_reason"] + [
        "usage_statistics"
    ]


@pytest.mark.parametrize(
    ("sent", "expected"), [(None, True), (False, False), ("false", False), ("0", False)]
)
def test_enable_thinking_reaches_every_model_call_of_a_send(
    recorded: tuple[Api, RecordingModel], sent: bool | str | None, expected: bool
) -> None:
    api, model = recorded
    members = [api.agent(n)["id"] for n in ("ann", "bob", "cid")]
    group = api.group(members)["id"]
    body: dict[str, Any] = {"input": "think about it"}
    if sent is not None:
        body["enable_thinking"] = sent

    api.ok("POST", f"/v1/groups/{group}/messages", json=body)
    assert len(model.requests) == 3
    api.ok("POST", f"/v1/agents/{members[0]}/messages", json=body)
    assert len(model.requests) == 4
    assert {request.enable_thinking for request in model.requests} == {expected}


IMAGE_URL = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
PIXEL = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}


def test_a_group_send_gives_images_to_the_model_and_refuses_parts_it_cannot_take(
    recorded: tuple[Api, RecordingModel],
) -> None:
    """SPEC §3: text and image parts reach the model; a part the provider cannot take is a
    422 naming it, never dropped, and nothing is stored."""
    api, model = recorded
    members = [api.agent(n)["id"] for n in ("ann", "bob")]
    group = api.group(members)["id"]
    path = f"/v1/groups/{group}/messages"
    parts = [
        {"type": "text", "text": "what is this?"},
        IMAGE_URL,
        {"type": "image", "source": PIXEL},
    ]

    api.ok("POST", path, json={"messages": [{"role": "user", "content": parts}]})
    first = model.requests[0].messages[-1]
    assert "what is this?" in (first.text or "")
    assert [(i.url, i.data) for i in first.images] == [
        ("https://example.com/a.png", None),
        (None, PIXEL["data"]),
    ]

    stored = api.ok("GET", path, params={"limit": 100})
    for part, named in (
        ({"type": "image", "source": {"type": "letta", "file_id": "file-1"}}, "letta"),
        ({"type": "tool_call", "id": "c1", "name": "t", "input": {}}, "tool_call"),
    ):
        refused = api.client.post(path, json={"messages": [{"role": "user", "content": [part]}]})
        assert refused.status_code == 422, refused.text
        error = refused.json()["detail"][0]
        assert named in error["msg"] and error["loc"][-2:] == ["content", 0]
    assert api.ok("GET", path, params={"limit": 100}) == stored  # refused: nothing stored
