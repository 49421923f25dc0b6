"""Members hold their group's conversation, as in Letta: a member's messages filtered by the
group list the whole exchange, a direct message to a member afterwards has it in context,
and a reset removes it from all of them and nothing else."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api


def _texts(messages: list[dict[str, Any]]) -> list[str]:
    return [
        str(m.get("content"))
        for m in messages
        if m["message_type"] in ("user_message", "assistant_message")
    ]


def test_members_hold_the_exchange_and_a_reset_takes_only_it(api: Api) -> None:
    ann, bob, cid = (api.agent(n)["id"] for n in ("ann", "bob", "cid"))
    group = api.group([ann, bob, cid])["id"]
    sent = api.ok("POST", f"/v1/groups/{group}/messages", json={"input": "plan the trip"})
    exchange = _texts(sent["messages"])
    assert len(exchange) == 3

    for member in (ann, bob, cid):
        held = api.ok(
            "GET",
            f"/v1/agents/{member}/messages",
            params={"group_id": group, "order": "asc", "limit": 100},
        )
        assert _texts(held) == ["plan the trip", *exchange]
    outsider = api.agent("dee")["id"]
    assert api.ok("GET", f"/v1/agents/{outsider}/messages", params={"group_id": group}) == []

    # ann spoke first; asked directly, she is given what bob and cid said after her.
    api.ok("POST", f"/v1/agents/{ann}/messages", json={"input": "what did they say?"})
    history = api.ok("GET", f"/v1/agents/{ann}/messages", params={"order": "asc", "limit": 100})
    said = _texts(history)
    asked = said.index("what did they say?")
    assert all(any(reply in text for text in said[:asked]) for reply in exchange[1:])
    direct = said[asked:]

    api.ok("PATCH", f"/v1/groups/{group}/reset-messages")
    for member in (ann, bob, cid):
        held = api.ok("GET", f"/v1/agents/{member}/messages", params={"group_id": group})
        assert held == []
    left = _texts(
        api.ok("GET", f"/v1/agents/{ann}/messages", params={"order": "asc", "limit": 100})
    )
    assert left == direct  # her direct chat stays, the group's part is gone
    assert api.ok("GET", f"/v1/agents/{bob}/messages", params={"limit": 100}) == []
