"""The ids of a step's parts are the same everywhere: a streamed piece carries the id its
saved message is listed under, and a PATCH with any part's id edits that step's record
(without `message_type`, a reasoning part's id edits the reasoning)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from tests.api.test_response_schemas import assert_valid
from tests.conftest import Api


def _frames(text: str) -> list[dict[str, Any]]:
    chunks = [c.removeprefix("data: ") for c in text.split("\n\n") if c.startswith("data: ")]
    assert chunks[-1] == "[DONE]"
    return [json.loads(c) for c in chunks[:-1]]


def _transcript(api: Api, group_id: str) -> list[dict[str, Any]]:
    return api.ok("GET", f"/v1/groups/{group_id}/messages", params={"limit": 1000, "order": "asc"})


def test_streamed_pieces_carry_the_ids_their_messages_are_listed_under(api: Api) -> None:
    group = api.group([api.agent(name)["id"] for name in ("ann", "bob")])["id"]
    body = {"input": "tell me about tea and the weather", "stream_tokens": True}
    frames = _frames(api.client.post(f"/v1/groups/{group}/messages/stream", json=body).text)
    joined: dict[tuple[str, str], str] = defaultdict(str)
    for frame in frames:
        if frame["message_type"] in ("reasoning_message", "assistant_message"):
            joined[(frame["id"], frame["message_type"])] += (
                frame.get("reasoning") or frame.get("content") or ""
            )
    listed = {
        (m["id"], m["message_type"]): m.get("reasoning") or m.get("content")
        for m in _transcript(api, group)
        if m["message_type"] in ("reasoning_message", "assistant_message")
    }
    assert len(joined) == 4  # reasoning and reply of each member, each with its own id
    assert joined == listed


def test_a_patch_with_a_part_id_edits_that_part_of_the_step(api: Api) -> None:
    group = api.group([api.agent("ann")["id"]])["id"]
    reply = api.ok("POST", f"/v1/groups/{group}/messages", json={"input": "hello"})
    reasoning, answer = reply["messages"]
    assert (reasoning["message_type"], answer["message_type"]) == (
        "reasoning_message",
        "assistant_message",
    )
    assert reasoning["id"] != answer["id"] and reasoning["step_id"] == answer["step_id"]

    route = "/v1/groups/{group_id}/messages/{message_id}"
    response = api.client.patch(
        f"/v1/groups/{group}/messages/{reasoning['id']}", json={"reasoning": "second thoughts"}
    )
    edited = assert_valid("PATCH", route, response)
    assert (edited["id"], edited["reasoning"]) == (reasoning["id"], "second thoughts")
    response = api.client.patch(
        f"/v1/groups/{group}/messages/{answer['id']}", json={"content": "better said"}
    )
    edited = assert_valid("PATCH", route, response)
    assert (edited["id"], edited["content"]) == (answer["id"], "better said")

    listed = {m["id"]: m for m in _transcript(api, group)}
    assert listed[reasoning["id"]]["reasoning"] == "second thoughts"
    assert listed[answer["id"]]["content"] == "better said"
    ann = api.ok("GET", f"/v1/agents/{reply['messages'][0]['sender_id']}/messages")
    own = {m["id"]: m for m in ann}
    assert own[reasoning["id"]]["reasoning"] == "second thoughts"
    assert own[answer["id"]]["content"] == "better said"
