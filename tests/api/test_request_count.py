"""A send's DynamoDB traffic does not grow with the length of the group's history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core import ids
from core.ports import Put
from core.records import AgentRecord, GroupRecord, MessageRecord, TranscriptRecord
from handler.composition import Services
from tests.conftest import Api

TENANT = "default"


def _seed_history(services: Services, group_id: str, member_ids: list[str], count: int) -> None:
    """`count` earlier messages: in the transcript and in every member's own history, as
    the members had already seen them all."""
    store = services.agents._store  # noqa: SLF001 - the one store of this app
    now = datetime.now(UTC)
    changes: list[Put] = []
    for seq in range(1, count + 1):
        common = {"created_at": now, "role": "user", "text": f"earlier message {seq}"}
        changes.append(
            Put(
                TranscriptRecord(id=ids.new_id(ids.MESSAGE), parent_id=group_id, seq=seq, **common),
                None,
            )
        )
        for member in member_ids:
            changes.append(
                Put(
                    MessageRecord(id=ids.new_id(ids.MESSAGE), parent_id=member, seq=seq, **common),
                    None,
                )
            )
    # Seeded with BatchWriteItem (no conditions needed on fresh keys): far faster on moto.
    items = [store._operation(TENANT, change)["Put"]["Item"] for change in changes]  # noqa: SLF001
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        store._client.batch_write_item(RequestItems={store._table: batch})  # noqa: SLF001
    group = store.get(TENANT, GroupRecord, group_id)
    assert group is not None
    group.next_transcript_seq = count + 1
    group.seen = dict.fromkeys(member_ids, count)
    updates: list[Put] = [
        Put(group.model_copy(update={"version": group.version + 1}), group.version)
    ]
    for member in member_ids:
        agent = store.get(TENANT, AgentRecord, member)
        assert agent is not None
        agent.next_message_seq = count + 1
        # A long-lived agent has compacted its context long ago: only the latest few
        # messages are still in it, whatever the length of its history.
        agent.context_start_seq = count - 4
        updates.append(Put(agent.model_copy(update={"version": agent.version + 1}), agent.version))
    store.write(TENANT, updates)


def _requests_for_one_send(api: Api, services: Services, history: int) -> dict[str, int]:
    members = [api.agent(f"m{i}-{history}")["id"] for i in range(2)]
    group = api.group(members)
    _seed_history(services, group["id"], members, history)
    client = services.agents._store._client  # noqa: SLF001 - count this store's requests
    counts: dict[str, int] = {}

    def count(event_name: str, **_: object) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        counts[operation] = counts.get(operation, 0) + 1

    client.meta.events.register("before-call.dynamodb", count)
    try:
        reply = api.ok("POST", f"/v1/groups/{group['id']}/messages", json={"input": "hello"})
    finally:
        client.meta.events.unregister("before-call.dynamodb", count)
    assert reply["stop_reason"]["stop_reason"] == "end_turn"
    assert len(reply["messages"]) == 4
    return counts


@pytest.mark.parametrize("history", [1000])
def test_send_reads_the_same_with_1000_earlier_messages_as_with_10(
    api: Api, services: Services, history: int
) -> None:
    small = _requests_for_one_send(api, services, 10)
    large = _requests_for_one_send(api, services, history)
    assert large == small, (small, large)
    print("DynamoDB requests for one 2-member round-robin send:", small)
    assert sum(small.values()) < 60, small
