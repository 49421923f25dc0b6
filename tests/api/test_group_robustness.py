"""Group sends under the conditions a review found fragile: approvals, catch-up, resets,
system messages, oversized input, stale leases, bad tool arguments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from core.llm import ChatResponse, ToolCall
from core.ports import Put
from core.records import GroupRecord
from handler.app import create_app
from handler.composition import Services, build_services
from infra.settings import Settings
from tests.conftest import Api
from tests.fakes import ScriptedModel


def _send(api: Api, group_id: str, **body: object) -> dict:
    return api.ok("POST", f"/v1/groups/{group_id}/messages", json=body)


def test_a_tool_waiting_for_approval_pauses_the_group_until_decided(api: Api) -> None:
    block = api.block("human", "")
    careful = api.agent(
        "careful",
        block_ids=[block["id"]],
        tool_rules=[{"type": "requires_approval", "tool_name": "memory_insert"}],
    )
    group = api.group([careful["id"]])
    paused = _send(api, group["id"], input="please remember that I like tea")
    assert paused["stop_reason"]["stop_reason"] == "requires_approval"
    request = paused["messages"][-1]
    assert request["message_type"] == "approval_request_message"
    busy = api.client.post(f"/v1/groups/{group['id']}/messages", json={"input": "hello?"})
    assert busy.status_code == 409 and "approval" in busy.json()["detail"]
    approval = {
        "type": "approval",
        "approvals": [
            {
                "type": "approval",
                "tool_call_id": request["tool_call"]["tool_call_id"],
                "approve": True,
            }
        ],
    }
    resumed = _send(api, group["id"], messages=[approval])
    assert resumed["stop_reason"]["stop_reason"] == "end_turn"
    kinds = [m["message_type"] for m in resumed["messages"]]
    assert kinds[:2] == ["approval_response_message", "tool_return_message"]
    assert kinds[-1] == "assistant_message"
    assert "tea" in api.ok("GET", f"/v1/blocks/{block['id']}")["value"]
    assert _send(api, group["id"], input="thanks")["stop_reason"]["stop_reason"] == "end_turn"


def test_an_approval_with_nothing_waiting_is_400(api: Api) -> None:
    group = api.group([api.agent("a")["id"]])
    response = api.client.post(
        f"/v1/groups/{group['id']}/messages",
        json={"messages": [{"type": "approval", "approve": True}]},
    )
    assert response.status_code == 400


def test_a_member_catching_up_on_many_messages_is_saved_in_chunks(api: Api) -> None:
    members = [api.agent(f"m{i}")["id"] for i in range(2)]
    group = api.group(members, manager_config={"manager_type": "round_robin", "max_turns": 1})
    many = [{"role": "user", "content": f"note {i}"} for i in range(50)]
    for _ in range(2):
        assert _send(api, group["id"], messages=many)["stop_reason"]["stop_reason"] == "end_turn"
    api.ok("PATCH", f"/v1/groups/{group['id']}", json={"agent_ids": list(reversed(members))})
    reply = _send(api, group["id"], input="your turn")
    assert reply["messages"][-1]["name"] == "m1"
    listed = api.ok("GET", f"/v1/agents/{members[1]}/messages", params={"limit": 200})
    # More than one write holds (each takes the store's max_changes_per_write less the
    # agent); the newest RELAY_LIMIT are given.
    assert sum(1 for m in listed if m["message_type"] == "user_message") > 80
    too_many = api.client.post(
        f"/v1/groups/{group['id']}/messages",
        json={"messages": [*many, {"role": "user", "content": "one more"}]},
    )
    assert too_many.status_code == 422


def test_oldest_first_listing_after_a_reset_shows_the_new_messages(api: Api) -> None:
    group = api.group([api.agent("a")["id"]])
    _send(api, group["id"], input="before")
    api.ok("PATCH", f"/v1/groups/{group['id']}/reset-messages")
    _send(api, group["id"], input="after")
    asc = api.ok("GET", f"/v1/groups/{group['id']}/messages", params={"order": "asc", "limit": 2})
    assert asc[0]["message_type"] == "user_message" and asc[0]["content"] == "after"
    everything = api.ok("GET", f"/v1/groups/{group['id']}/messages", params={"limit": 50})
    assert all("before" not in str(m.get("content")) for m in everything)


def test_system_messages_reach_the_members(api: Api) -> None:
    member = api.agent("a")
    group = api.group([member["id"]])
    _send(
        api,
        group["id"],
        messages=[
            {"role": "system", "content": "answer in French"},
            {"role": "user", "content": "hello"},
        ],
    )
    seen = api.ok("GET", f"/v1/agents/{member['id']}/messages", params={"limit": 20})
    assert any(
        m["message_type"] == "system_message" and m["content"] == "answer in French" for m in seen
    )


def test_the_supervisor_is_not_given_its_workers_replies_twice(api: Api) -> None:
    boss = api.agent("boss")
    workers = [api.agent(f"w{i}")["id"] for i in range(2)]
    group = api.group(
        workers, manager_config={"manager_type": "supervisor", "manager_agent_id": boss["id"]}
    )
    for text in ("first task", "second task"):
        _send(api, group["id"], input=text)
    seen = api.ok("GET", f"/v1/agents/{boss['id']}/messages", params={"limit": 100})
    relayed = [m for m in seen if m["message_type"] == "user_message" and m["name"] in ("w0", "w1")]
    assert relayed == []


def test_an_oversized_message_is_413_and_nothing_is_stored(api: Api) -> None:
    group = api.group([api.agent("a")["id"]])
    response = api.client.post(f"/v1/groups/{group['id']}/messages", json={"input": "x" * 400_000})
    assert response.status_code == 413
    assert api.ok("GET", f"/v1/groups/{group['id']}/messages") == []


def test_an_expired_lease_does_not_block_the_group(api: Api, services: Services) -> None:
    group = api.group([api.agent("a")["id"]])
    store = services.agents._store  # noqa: SLF001
    record = store.get("default", GroupRecord, group["id"])
    assert record is not None
    stale = record.model_copy(
        update={
            "lease_id": "lease-crashed",
            "version": record.version + 1,
            "lease_expires_at": datetime.now(UTC) - timedelta(seconds=1),
        }
    )
    store.write("default", [Put(stale, record.version)])
    assert _send(api, group["id"], input="hi")["stop_reason"]["stop_reason"] == "end_turn"
    live = stale.model_copy(
        update={
            "lease_id": "lease-live",
            "version": stale.version + 2,
            "lease_expires_at": datetime.now(UTC) + timedelta(seconds=60),
        }
    )
    current = store.get("default", GroupRecord, group["id"])
    assert current is not None
    store.write(
        "default",
        [
            Put(
                live.model_copy(
                    update={
                        "version": current.version + 1,
                        "next_transcript_seq": current.next_transcript_seq,
                    }
                ),
                current.version,
            )
        ],
    )
    busy = api.client.post(f"/v1/groups/{group['id']}/messages", json={"input": "hi"})
    assert busy.status_code == 409 and "busy" in busy.json()["detail"]


def test_badly_typed_tool_arguments_end_the_turn_without_a_500(settings: Settings) -> None:
    model = ScriptedModel()
    model.queue(
        ChatResponse(
            text=None,
            tool_calls=(
                ToolCall(
                    "c1",
                    "memory_insert",
                    '{"label": "human", "new_str": "x", "insert_line": "abc"}',
                ),
            ),
            finish_reason="tool_calls",
        )
    )
    services = build_services(settings, model=model)
    api = Api(TestClient(create_app(services)))
    block = api.block("human", "")
    group = api.group([api.agent("a", block_ids=[block["id"]])["id"]])
    reply = _send(api, group["id"], input="hi")
    assert reply["stop_reason"]["stop_reason"] == "invalid_tool_call"
    error = reply["messages"][-1]
    assert error["message_type"] == "tool_return_message" and error["status"] == "error"
    assert "insert_line" in error["tool_return"]
