"""A member messaged directly knows what its groups said meanwhile.

In Letta every member holds a copy of each group message. Here the group's conversation
lives once, in the transcript, and a member is given what it has not seen yet when it next
speaks: in the group (core.groups.engine) or, here, in a direct chat. The copies carry the
group's id (a reset deletes them) and ids derived from the entries (an edit reaches them).

Copies are saved in the same atomic write that notes, in each group, how far the member has
been given its transcript (`GroupRecord.seen`). Two sends starting at once both read the
same news, but only one write can note it (the group's version changes): the other reads
again and finds nothing new. A process that dies leaves the copies and the note both saved
or both not, so each entry reaches the member once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from core.errors import RecordTooLargeError
from core.groups.transcript import relay
from core.persistence.retry import patient
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store, record_bytes
from core.records import AgentRecord, GroupRecord, MessageRecord, TranscriptRecord

RELAY_LIMIT = 100
"""At most this many unseen entries of one group are given at once (the newest)."""
NOTE_BYTES = 128
"""Room kept for what noting an agent in a group's `seen` adds to the group record."""


@dataclass
class _Batch:
    """One write's share: copies to save, and per group the transcript seq they reach."""

    copies: list[MessageRecord] = field(default_factory=list)
    reached: dict[str, int] = field(default_factory=dict)
    complete: bool = True


def give_unseen(
    store: Store, clock: Clock, tenant: str, agent: AgentRecord, *, run_id: str | None = None
) -> tuple[AgentRecord, list[MessageRecord]]:
    """Save on the agent, as inputs, what its groups said that it has not been given.
    Returns the agent as saved and the copies saved, oldest first (none when there was no
    news). Groups with a send at work are skipped: that send gives its members the news
    itself. `run_id` tags the copies as a Run's messages."""
    given: list[MessageRecord] = []
    if not agent.group_ids and not agent.managed_group_ids:
        return agent, given  # most direct chats: nothing to read, nothing to copy
    while True:
        write = functools.partial(_give_once, store, clock, tenant, agent, run_id)
        agent, batch = patient(write, what=f"agent {agent.id}")
        given.extend(batch.copies)
        if batch.complete:
            return agent, given


def _give_once(
    store: Store,
    clock: Clock,
    tenant: str,
    known: AgentRecord,
    run_id: str | None,
    attempt: int,
) -> tuple[AgentRecord, _Batch]:
    """One write: as much unseen news as fits, with the notes that it was given."""
    uow = UnitOfWork(store, tenant, clock)
    agent = uow.reload(AgentRecord, known, attempt)
    group_ids = list(dict.fromkeys([*agent.group_ids, *agent.managed_group_ids]))
    groups = [g for g in uow.load_existing(GroupRecord, group_ids) if not _busy(g, uow)]
    batch = _fill(store, clock, tenant, agent, groups, run_id)
    if not batch.reached:
        return agent, batch
    for copy in batch.copies:
        uow.add(copy)
    if batch.copies:
        agent.next_message_seq += len(batch.copies)
        uow.touch(agent)
    for group in groups:
        if group.id in batch.reached:
            group.seen[agent.id] = batch.reached[group.id]
            uow.touch(group)
    uow.commit()
    return agent, batch


def _busy(group: GroupRecord, uow: UnitOfWork) -> bool:
    return bool(group.lease_id and group.lease_expires_at and group.lease_expires_at > uow.now)


def _fill(
    store: Store,
    clock: Clock,
    tenant: str,
    agent: AgentRecord,
    groups: list[GroupRecord],
    run_id: str | None,
) -> _Batch:
    """The news one write can hold beside the agent and the groups it notes, group after
    group, each group's entries in order (a group cut short is noted up to where it
    stopped). Copies are numbered and measured as they will be written."""
    limits = store.limits
    count, size = 1, record_bytes(agent)
    batch = _Batch()
    for group in groups:
        noted = False
        for entry in _unseen_entries(store, tenant, agent, group):
            copies = relay([entry], agent.id, clock)
            for copy in copies:
                copy.seq = agent.next_message_seq + len(batch.copies)
                copy.run_id = run_id
            more = len(copies) + (0 if noted else 1)
            grows = sum(record_bytes(c) for c in copies)
            grows += 0 if noted else record_bytes(group) + NOTE_BYTES
            if count + more > limits.max_changes_per_write or size + grows > limits.max_write_bytes:
                if not batch.reached:  # not even one entry fits an empty write
                    raise RecordTooLargeError(
                        f"A message of group {group.id} is too large to give to agent "
                        f"{agent.id} in one write."
                    )
                batch.complete = False
                return batch
            batch.copies.extend(copies)
            batch.reached[group.id] = entry.seq
            count, size, noted = count + more, size + grows, True
    return batch


def _unseen_entries(
    store: Store, tenant: str, agent: AgentRecord, group: GroupRecord
) -> list[TranscriptRecord]:
    """The group's entries after what the agent was given (the newest RELAY_LIMIT)."""
    given = max(group.seen.get(agent.id, 0), group.transcript_start_seq - 1)
    if group.next_transcript_seq - 1 <= given:
        return []
    newest = store.children(
        tenant, TranscriptRecord, group.id, limit=RELAY_LIMIT, after_seq=given, newest_first=True
    )
    return list(reversed(newest))
