"""Saving a step: number its records with the agent's message counter, in one atomic write.

Each step is committed on its own (its messages, the agent's counter, its pending approval
and last stop reason), so a failure mid-turn keeps every finished step and half-writes
nothing. A long run of inputs before the step (a member catching up on a group) goes first,
in writes that each fit the store's limit.
"""

from __future__ import annotations

from core.persistence.retry import patient
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store, record_bytes
from core.records import AgentRecord, MessageRecord
from core.runtime.turn import StepOutcome


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
    ) -> tuple[list[MessageRecord], AgentRecord]:
        """Save the `pending` inputs, then the step's own records (one atomic write);
        returns everything saved, in order, and the agent as saved."""
        agent = known
        for batch in self.batches(known, pending):
            agent = self.save(tenant, agent, batch)
        agent = self.save(tenant, agent, outcome.records, outcome)
        return [*pending, *outcome.records], agent

    def save(
        self,
        tenant: str,
        known: AgentRecord,
        records: list[MessageRecord],
        outcome: StepOutcome | None = None,
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
                request = outcome.records[0]
                agent.pending_approval_id = request.id
                agent.pending_approval_seq = request.seq
            if outcome is not None and outcome.stop_reason is not None:
                agent.echoed["last_stop_reason"] = outcome.stop_reason
            uow.touch(agent)
            uow.commit()
            return agent

        return patient(write, what=f"agent {known.id}")
