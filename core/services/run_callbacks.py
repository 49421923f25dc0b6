"""Reporting a finished run to its `callback_url`: the run as GET /v1/runs/{id} shows it,
POSTed once, with what came of it kept on the run (`callback_sent_at`, status, error)."""

from __future__ import annotations

from core.persistence.retry import retry_on_conflict
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Callbacks, Clock, Store
from core.records import RunRecord
from core.services.run_views import run_to_wire


class RunCallbacks:
    def __init__(self, store: Store, clock: Clock, callbacks: Callbacks) -> None:
        self._store = store
        self._clock = clock
        self._callbacks = callbacks

    def refusal(self, url: str) -> str | None:
        return self._callbacks.refusal(url)

    def report(self, tenant: str, run_id: str) -> None:
        """RunService's `on_finished`: deliver the run, then record how that went."""
        run = self._store.get(tenant, RunRecord, run_id)
        if run is None or run.callback_url is None or run.callback_sent_at is not None:
            return
        result = self._callbacks.deliver(run.callback_url, run_to_wire(run).model_dump(mode="json"))
        self._record(tenant, run_id, result.status_code, result.error)

    @retry_on_conflict("the run")
    def _record(self, tenant: str, run_id: str, status: int | None, error: str | None) -> None:
        uow = UnitOfWork(self._store, tenant, self._clock)
        found = uow.load_existing(RunRecord, [run_id])
        if not found:
            return
        run = found[0]
        run.callback_sent_at = uow.now
        run.callback_status_code, run.callback_error = status, error
        uow.touch(run)
        uow.commit()
