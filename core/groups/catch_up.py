"""A member messaged directly knows what its groups said meanwhile.

In Letta every member holds a copy of each group message. Here the group's conversation
lives once, in the transcript, and a member is given what it has not seen yet when it next
speaks: in the group (core.groups.engine) or, here, in a direct chat. The copies carry the
group's id (a reset deletes them) and ids derived from the entries (an edit reaches them).
"""

from __future__ import annotations

from core.groups.transcript import relay
from core.persistence.retry import optimistic
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store
from core.records import AgentRecord, GroupRecord, MessageRecord, TranscriptRecord

RELAY_LIMIT = 100
"""At most this many unseen entries of one group are given at once (the newest)."""


def unseen(
    store: Store, clock: Clock, tenant: str, agent: AgentRecord
) -> tuple[list[MessageRecord], dict[str, int]]:
    """What the agent's groups said that it has not been given, as its input records, and
    per group the transcript seq that reaches (for `mark_given` once they are saved)."""
    records: list[MessageRecord] = []
    reached: dict[str, int] = {}
    group_ids = list(dict.fromkeys([*agent.group_ids, *agent.managed_group_ids]))
    now = clock.now()
    for group in store.get_many(tenant, GroupRecord, group_ids).values():
        if group.lease_id and group.lease_expires_at and group.lease_expires_at > now:
            continue  # a send is at work there: it relays, so nothing is given twice
        given = max(group.seen.get(agent.id, 0), group.transcript_start_seq - 1)
        if group.next_transcript_seq - 1 <= given:
            continue
        newest = store.children(
            tenant,
            TranscriptRecord,
            group.id,
            limit=RELAY_LIMIT,
            after_seq=given,
            newest_first=True,
        )
        entries = list(reversed(newest))
        if entries:
            records.extend(relay(entries, agent.id, clock))
            reached[group.id] = entries[-1].seq
    return records, reached


def mark_given(
    store: Store, clock: Clock, tenant: str, agent_id: str, reached: dict[str, int]
) -> None:
    """Note in each group that the agent has been given its transcript up to `reached`."""
    for group_id, seq in reached.items():

        def note(_: int, group_id: str = group_id, seq: int = seq) -> None:
            uow = UnitOfWork(store, tenant, clock)
            found = uow.load_existing(GroupRecord, [group_id])
            if not found:
                return
            group = found[0]
            if group.seen.get(agent_id, 0) >= seq:
                return
            group.seen[agent_id] = seq
            uow.touch(group)
            uow.commit()

        optimistic(note, what=f"group {group_id}")
