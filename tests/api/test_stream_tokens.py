"""stream_tokens: replies arrive in pieces that carry the id of the message they build and
join up to exactly what the whole-message stream shows."""

from __future__ import annotations

import json
from collections import defaultdict

from tests.conftest import Api


def _frames(text: str) -> list[dict]:
    chunks = [c.removeprefix("data: ") for c in text.split("\n\n") if c.startswith("data: ")]
    assert chunks[-1] == "[DONE]"
    return [json.loads(c) for c in chunks[:-1]]


def _joined(frames: list[dict]) -> list[tuple[str, str, str]]:
    """(id, type, text) per message, pieces of one id and type concatenated in order."""
    texts: dict[tuple[str, str], str] = defaultdict(str)
    order: list[tuple[str, str]] = []
    for frame in frames:
        kind = frame["message_type"]
        if kind not in ("reasoning_message", "assistant_message"):
            continue
        key = (frame["id"], kind)
        if key not in texts:
            order.append(key)
        texts[key] += frame.get("reasoning") or frame.get("content") or ""
    return [(i, k, texts[(i, k)]) for i, k in order]


def test_group_stream_tokens_pieces_join_to_the_whole_messages(api: Api) -> None:
    def make_group() -> str:
        members = [api.agent(f"m{i}")["id"] for i in range(2)]
        return api.group(members)["id"]

    body = {"input": "tell me something about tea and the weather today"}
    whole = _frames(api.client.post(f"/v1/groups/{make_group()}/messages/stream", json=body).text)
    pieces = _frames(
        api.client.post(
            f"/v1/groups/{make_group()}/messages/stream", json={**body, "stream_tokens": True}
        ).text
    )
    assert len(pieces) > len(whole), "tokens should arrive in more frames than messages"
    as_whole = [(k, t) for _, k, t in _joined(whole)]
    as_pieces = [(k, t) for _, k, t in _joined(pieces)]
    assert as_pieces == as_whole
    assert pieces[-2]["message_type"] == "stop_reason"
    assert pieces[-1]["message_type"] == "usage_statistics"
    names = [f["name"] for f in pieces if f["message_type"] == "assistant_message"]
    assert names[0] == "m0" and names[-1] == "m1"


def test_agent_stream_tokens_for_a_send_message_agent(api: Api) -> None:
    agent = api.agent("legacy", agent_type="memgpt_v2_agent")
    response = api.client.post(
        f"/v1/agents/{agent['id']}/messages/stream",
        json={"input": "hello", "stream_tokens": True},
    )
    frames = _frames(response.text)
    kinds = [f["message_type"] for f in frames]
    assert kinds.count("reasoning_message") > 1  # the thought, in pieces
    assert kinds.count("assistant_message") == 1  # the send_message reply, whole
    reply = next(f for f in frames if f["message_type"] == "assistant_message")
    assert "hello" in reply["content"]
