"""Every write a send makes to its group: taking the lease, the atomic group-and-transcript
writes that each renew it, and giving it back.

While a send holds the lease, other sends to the group are refused (409). Each write starts
from the copy of the group the send holds (it made every write since it read it), saving a
read; a lost race reads the group again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from core.errors import SendInterruptedError
from core.groups import journal
from core.groups.busy import ensure_free
from core.groups.send import GroupSend
from core.groups.transcript import to_transcript
from core.persistence.retry import optimistic
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store
from core.records import GroupRecord, JournalEntry, MessageRecord, TranscriptRecord

DEFAULT_LEASE = timedelta(seconds=180)
"""How long a send holds the group between two of its writes; every write renews it. Keep
it above the function's timeout, so a send that was killed frees the group soon after,
while a live one never loses it."""

Change = Callable[[GroupRecord], Any]
"""Edits the group in place; returning False leaves it unwritten."""


class GroupLease:
    def __init__(self, store: Store, clock: Clock, duration: timedelta = DEFAULT_LEASE) -> None:
        self._store = store
        self._clock = clock
        self._duration = duration

    def take(
        self,
        send: GroupSend,
        baseline: dict[str, int],
        inputs: list[MessageRecord],
        *,
        resuming: bool = False,
    ) -> list[TranscriptRecord]:
        """Hold the group for the send (409 while another send holds it), start its
        journal or pick up the one its key left (core.groups.journal), and append the
        send's `inputs` to the transcript, all in one write (a resumed send's are in
        already: its step 0). `resuming`: the send's earlier attempt is known dead, so a
        lease it still holds is taken over. Returns the inputs' transcript entries."""
        saved: list[TranscriptRecord] = []

        def claim(current: GroupRecord) -> None:
            now = self._clock.now()
            ours = current.journal is not None and current.journal.key == send.key
            if not (resuming and ours):
                ensure_free(current, now)
            current.lease_id, current.lease_expires_at = send.lease_id, now + self._duration
            journal.begin(current, send, baseline)
            saved.clear()
            if not send.resumed:
                saved.extend(to_transcript(inputs, current.id, current.next_transcript_seq))
                current.next_transcript_seq += len(inputs)
                if current.journal is not None:
                    current.journal.entries[0] = JournalEntry()
            send.position = 1  # step 0, the input, is done

        send.group = self._write(send.tenant, send.group, claim, lambda: saved)
        return saved

    def write(
        self,
        send: GroupSend,
        change: Change,
        new: Callable[[], list[TranscriptRecord]] | None = None,
    ) -> None:
        """Apply `change` (and add the records `new` returns after it) in one write that
        renews the lease; refused if another send took the group meanwhile."""
        send.group = self._write(send.tenant, send.group, self._held(send, change), new)
        send.pending.clear()

    def stage(
        self,
        send: GroupSend,
        uow: UnitOfWork,
        attempt: int,
        change: Change,
        new: Callable[[], list[TranscriptRecord]],
    ) -> GroupRecord:
        """`write`'s change, staged in someone else's write (an agent's last step of a
        turn, so the turn and its transcript entries commit together); `committed` after
        that write succeeds."""
        group = uow.reload(GroupRecord, send.group, attempt)
        self._held(send, change)(group)
        for record in new():
            uow.add(record)
        uow.touch(group)
        return group

    @staticmethod
    def committed(send: GroupSend, group: GroupRecord) -> None:
        send.group = group
        send.pending.clear()

    def _held(self, send: GroupSend, change: Change) -> Change:
        def held(group: GroupRecord) -> Any:
            if group.lease_id != send.lease_id:
                raise SendInterruptedError(
                    f"Group {group.id} was taken over by another send while this one "
                    "ran; what was produced so far is in the transcript."
                )
            group.lease_expires_at = self._clock.now() + self._duration
            result = change(group)
            journal.flush(group, send)
            return result

        return held

    def give_back(self, send: GroupSend) -> None:
        """Free the group, if this send still holds it."""

        def clear(group: GroupRecord) -> bool:
            if group.lease_id != send.lease_id:
                return False  # another send holds it now: leave its copy current
            self.release(group, send.stop_reason, keep_journal=send.failed)
            return True

        if not send.released:
            send.group = self._write(send.tenant, send.group, clear)

    @staticmethod
    def release(group: GroupRecord, stop_reason: str, *, keep_journal: bool = False) -> None:
        """Free the group (in the send's last write, or a write of its own at the end);
        `keep_journal`: the send failed, and a retry with its key goes on from it."""
        group.lease_id = None
        group.lease_expires_at = None
        if stop_reason != "requires_approval" and not keep_journal:
            group.journal = None  # the send ended: nothing to resume
        # (paused: the approval's send goes on through the pattern from its journal)

    def _write(
        self,
        tenant: str,
        known: GroupRecord,
        change: Change,
        new: Callable[[], list[TranscriptRecord]] | None = None,
    ) -> GroupRecord:
        def attempt(number: int) -> GroupRecord:
            uow = UnitOfWork(self._store, tenant, self._clock)
            group = uow.reload(GroupRecord, known, number)
            if change(group) is False:
                return group
            for record in new() if new else []:
                uow.add(record)
            uow.touch(group)
            uow.commit()
            return group

        return optimistic(attempt, what=f"group {known.id}")
