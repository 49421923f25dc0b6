"""Saving a step: number its records with the agent's message counter, in one atomic write.

Each step is committed on its own (its messages, the agent's counter, its pending approval
and last stop reason), so a failure mid-turn keeps every finished step and half-writes
nothing. A long run of inputs before the step (a member catching up on a group) goes first,
in writes that each fit the store's limit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from core.persistence.retry import patient
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store, record_bytes
from core.records import AgentRecord, MessageRecord
from core.runtime.turn import StepOutcome, TurnOptions
from core.runtime.usage import UsageTally

GROUP_ROOM = 64 * 1024
"""Bytes kept free for the group record a finish adds to a step's write."""


@dataclass(frozen=True)
class Finishing:
    """A turn's last step: what the turn saved before it, its usage, and the caller's
    `TurnOptions.finish` to join to the step's write."""

    options: TurnOptions
    earlier: list[MessageRecord]
    usage: UsageTally


class StepWriter:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def batches(
        self, agent: AgentRecord, records: list[MessageRecord]
    ) -> list[list[MessageRecord]]:
        """`records` cut into writes the store allows beside the agent record: each within
        the store's count and byte limits."""
        limits = self._store.limits
        most = max(1, limits.max_changes_per_write - 1)
        room = limits.max_write_bytes - record_bytes(agent)
        batches: list[list[MessageRecord]] = []
        size = 0
        for record in records:
            cost = record_bytes(record)
            if not batches or len(batches[-1]) >= most or size + cost > room:
                batches.append([])
                size = 0
            batches[-1].append(record)
            size += cost
        return batches

    def commit(
        self,
        tenant: str,
        known: AgentRecord,
        pending: list[MessageRecord],
        outcome: StepOutcome,
        finish: Finishing | None = None,
    ) -> tuple[list[MessageRecord], AgentRecord]:
        """Save the `pending` inputs and the step's own records: in one atomic write when
        they fit together (the usual case), else the inputs first, in writes that fit;
        returns everything saved, in order, and the agent as saved. `finish` (a turn's
        last step) joins its caller's changes to the step's write."""
        together = [*pending, *outcome.records]
        if len(self.batches(known, together)) == 1:
            finish = finish if self._room_for(known, together, finish) else None
            return together, self.save(tenant, known, together, outcome, finish)
        agent = known
        for batch in self.batches(known, pending):
            agent = self.save(tenant, agent, batch)
        if finish is not None:  # the inputs saved just now are the turn's records too
            finish = replace(finish, earlier=[*finish.earlier, *pending])
            finish = finish if self._room_for(known, outcome.records, finish) else None
        agent = self.save(tenant, agent, outcome.records, outcome, finish)
        return together, agent

    def _room_for(
        self, agent: AgentRecord, records: list[MessageRecord], finish: Finishing | None
    ) -> bool:
        """Whether the finish's changes (at most a transcript copy of each of the turn's
        records, and the group) fit in the step's write beside `records`; when they do
        not, the caller writes them on its own afterwards (its finish is not applied)."""
        if finish is None:
            return False
        limits = self._store.limits
        copies = [*finish.earlier, *records]
        count = 1 + len(records) + 1 + len(copies)
        size = record_bytes(agent) + sum(record_bytes(r) for r in [*records, *copies])
        return count <= limits.max_changes_per_write and size + GROUP_ROOM <= limits.max_write_bytes

    def save(
        self,
        tenant: str,
        known: AgentRecord,
        records: list[MessageRecord],
        outcome: StepOutcome | None = None,
        finish: Finishing | None = None,
    ) -> AgentRecord:
        """One atomic write of records and the agent's counter. The first try starts from
        the copy the turn holds (saving a read); a lost race reads the agent again, patiently,
        since overlapping runs of one agent all number their messages with its counter."""

        def write(attempt: int) -> AgentRecord:
            uow = UnitOfWork(self._store, tenant, self._clock)
            agent = uow.reload(AgentRecord, known, attempt)
            for offset, record in enumerate(records):
                record.parent_id = agent.id
                record.seq = agent.next_message_seq + offset
                uow.add(record)
            agent.next_message_seq += len(records)
            if any(r.role == "approval" for r in records):
                agent.pending_approval_id = None
                agent.pending_approval_seq = None
            if outcome is not None and outcome.stop_reason == "requires_approval":
                request = outcome.records[0]  # saved in this write, numbered above
                agent.pending_approval_id = request.id
                agent.pending_approval_seq = request.seq
            if outcome is not None and outcome.stop_reason is not None:
                agent.echoed["last_stop_reason"] = outcome.stop_reason
            uow.touch(agent)
            if finish is not None and outcome is not None and outcome.stop_reason is not None:
                what = finish.options.finish
                assert what is not None
                what.stage(
                    uow, attempt, [*finish.earlier, *records], outcome.stop_reason, finish.usage
                )
            uow.commit()
            return agent

        saved = patient(write, what=f"agent {known.id}")
        if finish is not None and finish.options.finish is not None:
            finish.options.finish.committed()
        return saved
