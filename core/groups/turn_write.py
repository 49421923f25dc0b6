"""One write per speaker turn: the turn's transcript entries, the speaker's cursor, the
lease's renewal and the journal's entry ride in the write of the agent's last step
(core.runtime.turn.TurnFinish), instead of a second write after it."""

from __future__ import annotations

from core.groups.lease import GroupLease
from core.groups.send import GroupSend
from core.groups.transcript import to_transcript
from core.persistence.unit_of_work import UnitOfWork
from core.records import GroupRecord, JournalEntry, MessageRecord, TranscriptRecord
from core.runtime.turn import StopReason
from core.runtime.usage import UsageTally


class PublishWithTurn:
    """core.runtime.turn.TurnFinish for a turn that joins the transcript. `applied` tells
    the engine whether it happened (a turn cut short publishes the usual way)."""

    def __init__(
        self,
        lease: GroupLease,
        send: GroupSend,
        position: int,
        agent_id: str,
        input_ids: set[str],
        reached: int | None,
        release: bool = False,
    ) -> None:
        """`release`: the send's last step: the lease is given back in the same write."""
        self._lease = lease
        self._release = release
        self._send = send
        self._position = position
        self._agent_id = agent_id
        self._input_ids = input_ids
        self._reached = reached
        self._group: GroupRecord | None = None
        self._entries: list[TranscriptRecord] = []
        self.applied = False

    def stage(
        self,
        uow: UnitOfWork,
        attempt: int,
        saved: list[MessageRecord],
        stop_reason: StopReason,
        usage: UsageTally,
    ) -> None:
        own = [r for r in saved if r.id not in self._input_ids]
        self._send.pending[self._position] = JournalEntry(
            end=self._send.position,
            agent_id=self._agent_id,
            own_seqs=[r.seq for r in own],
            first_seq=min((r.seq for r in saved), default=None),
            stop_reason=stop_reason,
            reached=self._reached,
            usage=[usage.step_count, usage.prompt_tokens, usage.completion_tokens],
        )

        def add(group: GroupRecord) -> None:
            self._entries = to_transcript(own, group.id, group.next_transcript_seq)
            group.next_transcript_seq += len(own)
            if self._reached is not None:
                seen = group.seen.get(self._agent_id, 0)
                group.seen[self._agent_id] = max(seen, self._reached)
            if self._release:
                GroupLease.release(group, stop_reason)

        self._group = self._lease.stage(self._send, uow, attempt, add, lambda: self._entries)

    def committed(self) -> None:
        assert self._group is not None
        GroupLease.committed(self._send, self._group)
        send = self._send
        send.released = self._release
        if send.tail_from is not None and self._entries:
            send.tail = [*send.tail, *self._entries]
        self.applied = True
