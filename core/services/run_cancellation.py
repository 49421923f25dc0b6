"""Cancelling runs: a run not finished yet is marked cancelled; one at work notices between
its steps (TurnOptions.should_stop) and stops there, keeping what it produced."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from core.filters import matches
from core.paging import MAX_PAGE_SIZE, PageRequest
from core.persistence.retry import retry_on_conflict
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store
from core.records import RUN_FINISHED, RunRecord
from core.services.run_views import RunFilter


class RunCancellation:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def cancel_for(
        self, tenant: str, owner: RunFilter, run_ids: Sequence[str] | None
    ) -> dict[str, str]:
        """The cancel routes: the named runs, or every run of the owner not finished yet."""
        return self.cancel(tenant, owner, run_ids or self.active(tenant, owner))

    def cancel(self, tenant: str, owner: RunFilter, run_ids: Sequence[str]) -> dict[str, str]:
        """Cancel each of the owner's runs (an agent's, a group's) not finished yet; returns
        every run's status afterwards ("not_found" for a run that is not the owner's)."""
        return {
            run_id: self._cancel_one(tenant, owner, run_id) for run_id in dict.fromkeys(run_ids)
        }

    def active(self, tenant: str, owner: RunFilter) -> list[str]:
        """Ids of the owner's runs not finished yet."""
        where = replace(owner, statuses=("created", "running"))
        page = PageRequest(limit=MAX_PAGE_SIZE)
        return [r.id for r in self._store.list(tenant, RunRecord, page, where.filters())]

    def is_cancelled(self, tenant: str, run_id: str) -> bool:
        run = self._store.get(tenant, RunRecord, run_id)
        return run is None or run.status == "cancelled"

    @retry_on_conflict("the run")
    def _cancel_one(self, tenant: str, owner: RunFilter, run_id: str) -> str:
        uow = UnitOfWork(self._store, tenant, self._clock)
        found = uow.load_existing(RunRecord, [run_id])
        if not found or not matches(found[0], owner.filters()):
            return "not_found"
        run = found[0]
        if run.status in RUN_FINISHED:
            return run.status
        if run.status == "created":  # never started: it ends here
            run.completed_at = uow.now
        run.status, run.stop_reason = "cancelled", "cancelled"
        uow.touch(run)
        uow.commit()
        return run.status
