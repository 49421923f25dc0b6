"""The log of a logged run: the messages it showed, in order, as children of the run.

A group send shows messages of several agents (and a manager's choices that stay out of the
transcript); its Run keeps copies of exactly those, so listing and streaming the run give
what the synchronous send would have answered.
"""

from __future__ import annotations

from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store
from core.records import MessageRecord, RunMessageRecord


class RunLog:
    def __init__(self, store: Store, clock: Clock, tenant: str, run_id: str) -> None:
        self._store = store
        self._clock = clock
        self._tenant = tenant
        self._run_id = run_id
        newest = store.children(tenant, RunMessageRecord, run_id, limit=1, newest_first=True)
        self._next = newest[0].seq + 1 if newest else 1
        """Only the run's executor writes its log, so it numbers the entries itself."""

    def append(self, records: list[MessageRecord]) -> None:
        """Copies of `records`, after what the log holds, in one write per store batch."""
        limit = max(1, self._store.limits.max_changes_per_write)
        for start in range(0, len(records), limit):
            uow = UnitOfWork(self._store, self._tenant, self._clock)
            for record in records[start : start + limit]:
                uow.add(
                    RunMessageRecord(
                        **record.model_dump(exclude={"parent_id", "seq", "version", "updated_at"}),
                        parent_id=self._run_id,
                        seq=self._next,
                    )
                )
                self._next += 1
            uow.commit()

    def forget(self, message_ids: set[str]) -> None:
        """Remove the entries of these messages (a resumed run's interrupted step); the
        numbering goes on after the gap."""
        logged = self._store.children(
            self._tenant, RunMessageRecord, self._run_id, limit=max(1, self._next - 1)
        )
        gone = [entry for entry in logged if entry.id in message_ids]
        limit = max(1, self._store.limits.max_changes_per_write)
        for start in range(0, len(gone), limit):
            uow = UnitOfWork(self._store, self._tenant, self._clock)
            for entry in gone[start : start + limit]:
                uow.remove(uow.track(RunMessageRecord, entry))
            uow.commit()
