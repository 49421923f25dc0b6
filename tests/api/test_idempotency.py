"""A retried send is processed once (SPEC §6): same Idempotency-Key, or the same otids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from core.ports import Put
from core.records import IdempotencyRecord
from core.schemas.messages import LettaRequest
from core.services import idempotency as idempotency_module
from core.services.idempotency import Idempotency, fingerprint, record_id
from handler.composition import Services
from tests.conftest import TABLE, Api


def _transcript(api: Api, group_id: str) -> list[dict]:
    return api.ok("GET", f"/v1/groups/{group_id}/messages", params={"limit": 100})


def test_same_key_returns_the_first_response_and_sends_once(api: Api) -> None:
    group = api.group([api.agent("a")["id"]])
    path = f"/v1/groups/{group['id']}/messages"
    headers = {"Idempotency-Key": "send-1"}
    first = api.ok("POST", path, json={"input": "hello"}, headers=headers)
    again = api.ok("POST", path, json={"input": "hello"}, headers=headers)
    assert again == first
    users = [m for m in _transcript(api, group["id"]) if m["message_type"] == "user_message"]
    assert len(users) == 1
    other = api.ok("POST", path, json={"input": "hello"}, headers={"Idempotency-Key": "send-2"})
    assert other["messages"][0]["id"] != first["messages"][0]["id"]


def test_same_otids_are_a_retry_too(api: Api) -> None:
    agent = api.agent("a")
    path = f"/v1/agents/{agent['id']}/messages"
    body = {"messages": [{"role": "user", "content": "hi", "otid": "otid-123"}]}
    first = api.ok("POST", path, json=body)
    assert api.ok("POST", path, json=body) == first
    listed = api.ok("GET", path, params={"limit": 50})
    assert sum(1 for m in listed if m["message_type"] == "user_message") == 1


def test_a_key_reused_for_another_body_is_422(api: Api) -> None:
    group = api.group([api.agent("a")["id"]])
    path = f"/v1/groups/{group['id']}/messages"
    api.ok("POST", path, json={"input": "one"}, headers={"Idempotency-Key": "k"})
    response = api.client.post(path, json={"input": "two"}, headers={"Idempotency-Key": "k"})
    assert response.status_code == 422


def test_a_retry_while_the_first_runs_is_409_and_a_dead_one_is_taken_over(
    api: Api, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry waits for the running attempt (here 0.4 s instead of WAIT_AT_MOST), then
    is told to retry; once that attempt is dead, a retry is the send."""
    monkeypatch.setattr(idempotency_module, "WAIT_AT_MOST", 0.4)
    group = api.group([api.agent("a")["id"]])
    path = f"/v1/groups/{group['id']}/messages"
    body = {"input": "hello"}
    store = services.agents._store  # noqa: SLF001
    idempotency = Idempotency(store, services.agents._clock)  # noqa: SLF001
    record = idempotency.claim(  # a first send that is still running
        "default",
        record_id(f"group:{group['id']}", "key:slow"),
        fingerprint(LettaRequest.model_validate(body)),
    )
    busy = api.client.post(path, json=body, headers={"Idempotency-Key": "slow"})
    assert busy.status_code == 409 and "retry to keep waiting" in busy.json()["detail"]
    dead = record.model_copy(
        update={
            "running_until": datetime.now(UTC) - timedelta(seconds=1),
            "version": record.version + 1,
        }
    )
    store.write("default", [Put(dead, record.version)])
    taken = api.ok("POST", path, json=body, headers={"Idempotency-Key": "slow"})
    assert taken["stop_reason"]["stop_reason"] == "end_turn"


def test_records_carry_a_ttl_attribute(api: Api) -> None:
    group = api.group([api.agent("a")["id"]])
    api.ok(
        "POST",
        f"/v1/groups/{group['id']}/messages",
        json={"input": "x"},
        headers={"Idempotency-Key": "ttl"},
    )
    items = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=TABLE)["Items"]
    kept = [i for i in items if i["kind"]["S"] == IdempotencyRecord.KIND]
    assert kept and all(int(i["expires_at"]["N"]) > datetime.now(UTC).timestamp() for i in kept)


def _frames(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("data: ")]


def test_a_retried_stream_replays_the_first_attempts_frames_and_sends_once(api: Api) -> None:
    agent = api.agent("streamer")
    group = api.group([agent["id"]])
    key = {"Idempotency-Key": "stream-once"}
    routes = [
        f"/v1/groups/{group['id']}/messages/stream",
        f"/v1/agents/{agent['id']}/messages/stream",
    ]
    for route in routes:
        first = api.client.post(route, json={"input": "hello"}, headers=key)
        again = api.client.post(route, json={"input": "hello"}, headers=key)
        assert first.status_code == again.status_code == 200
        assert _frames(again.text) == _frames(first.text)  # the same messages, ids included
        assert _frames(first.text)[-1] == "data: [DONE]" and len(_frames(first.text)) > 3
    listed = api.ok("GET", f"/v1/agents/{agent['id']}/messages", params={"limit": 100})
    said = [m for m in listed if m["message_type"] == "user_message"]
    assert len(said) == 2  # once through the group, once directly: no retry sent again
