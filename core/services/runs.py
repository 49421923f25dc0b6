"""Runs: units of background work on one agent (sleeptime agents run as Runs).

A run is created (`created`), handed to the RunLauncher (`start`), and whoever the launcher
hands it to calls `execute`, which marks it `running`, calls the handler registered for its
`job["kind"]` and records how it ended (`completed`, `failed` or `cancelled`, with a stop
reason). `execute` never raises: a failing handler gives a failed run, not a dead worker.

The messages a run produced are the agent's own messages (numbered children of the agent),
so a run stores only the range of seqs it produced; listing a run's messages reads that
range. Handlers tag what they produce with the run id (`TurnOptions(run_id=run.id)`), which
keeps runs of one agent that overlap in time apart.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, get_args

from core import ids
from core.errors import ConcurrentModificationError, NotFoundError
from core.llm import ModelTask
from core.observability import bind
from core.paging import PageRequest
from core.persistence.retry import retry_on_conflict
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, RunLauncher, Store
from core.records import AgentRecord, MessageRecord, RunKind, RunRecord
from core.runtime.agent_loop import AgentLoop, TurnOptions
from core.runtime.rendering import RenderOptions
from core.schemas.messages import LettaMessage
from core.schemas.runs import Run, RunUsage
from core.services.run_messages import RunMessages
from core.services.run_views import RunFilter, run_to_wire, status_for

logger = logging.getLogger(__name__)

AGENT_TURN: RunKind = "agent_turn"
"""The built-in job kind: one agent turn on `job["input"]` (see RunService.agent_turn)."""


class RunOutcome(Protocol):
    """What a handler returns; core.runtime.agent_loop.TurnResult is one. An optional
    `usage` attribute (a UsageTally) is recorded on the run when present."""

    @property
    def stop_reason(self) -> str: ...

    @property
    def messages(self) -> list[MessageRecord]: ...


RunHandler = Callable[[str, RunRecord], RunOutcome]
"""`handler(tenant, run)`: do the run's work, return how it ended and what it produced."""

RunAttempt = Literal["finished", "skipped", "not_started", "end_unrecorded"]
"""How `RunService.attempt` left a run. `finished`: it ran and its end is recorded (a failed
job included; nothing is recorded for a run deleted meanwhile). `skipped`: nothing to do;
the run is missing (deleted), finished, or started by another delivery that may still be
at work. `not_started`: it could not be started or resumed now (a store error, or its
earlier attempt still holds what it needs); a later delivery may run it. `end_unrecorded`:
it ran, but its end could not be recorded; it stays `running`."""

MAX_ATTEMPTS = 3
"""Deliveries that may start or resume one run; the next one ends it as failed."""
STALE_AFTER = timedelta(minutes=16)
"""A run still `running` this long after its last start lost its worker (the worker
function's timeout is 15 minutes): a delivery then resumes it, or fails it when its kind
cannot resume."""


class RetryLater(Exception):
    """A handler cannot resume its run yet (another send holds what it needs)."""


class RunService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        loop: AgentLoop,
        launcher: RunLauncher,
        on_finished: Callable[[str, str], None] | None = None,
    ) -> None:
        """`on_finished(tenant, run_id)` runs once a run's end is recorded (its callback)."""
        self._store = store
        self._clock = clock
        self._loop = loop
        self._launcher = launcher
        self._on_finished = on_finished
        self._messages = RunMessages(store)
        self._handlers: dict[str, RunHandler] = {AGENT_TURN: self.agent_turn}
        self._resumable: set[str] = set()

    @property
    def launcher(self) -> RunLauncher:
        return self._launcher

    # -- setting up and starting runs ----------------------------------------------------

    def register(self, kind: str, handler: RunHandler, *, resumable: bool = False) -> None:
        """Run `handler` for every run whose `job["kind"]` is `kind` (replaces an earlier one).
        A `resumable` handler is called again for a run whose worker died (`run.attempts`
        above 1), and goes on from the run's last committed step; other kinds fail then."""
        self._handlers[kind] = handler
        if resumable:
            self._resumable.add(kind)

    def create(
        self,
        tenant: str,
        agent_id: str,
        job: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        *,
        background: bool = True,
        logged: bool = False,
        callback_url: str | None = None,
        run_id: str | None = None,
    ) -> RunRecord:
        """Save a new run (status `created`) of `job` on the agent; `start` launches it.
        `run_id`: its id when the caller fixed it (a conflict if it exists)."""
        kind = job.get("kind")
        if kind not in self._handlers:
            raise ValueError(f"No run handler is registered for job kind {kind!r}.")
        if self._store.get(tenant, AgentRecord, agent_id) is None:
            raise NotFoundError(f"Agent not found: {agent_id}")
        run = RunRecord(
            id=run_id or ids.new_id(ids.RUN),
            created_at=self._clock.now(),
            agent_id=agent_id,
            background=background,
            metadata=dict(metadata or {}),
            job=dict(job),
            logged=logged,
            callback_url=callback_url,
        )
        uow = UnitOfWork(self._store, tenant, self._clock)
        uow.add(run)
        uow.commit()
        return run

    def start(self, tenant: str, run: RunRecord | str) -> None:
        """Hand the run to the launcher; returns as soon as it is handed over."""
        self._launcher.launch(tenant, run if isinstance(run, str) else run.id)

    def submit(
        self,
        tenant: str,
        agent_id: str,
        job: dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ) -> RunRecord:
        """`create` then `start`: the usual way to run something in the background."""
        run = self.create(tenant, agent_id, job, metadata)
        self.start(tenant, run)
        return run

    def start_turn(
        self,
        tenant: str,
        agent_id: str,
        text: str,
        *,
        task: ModelTask,
        group_id: str | None,
        metadata: dict[str, Any],
        run_id: str | None = None,
    ) -> str:
        """core.ports.BackgroundRuns: one agent turn on `text`, in the background; a run
        already saved under `run_id` is not started again."""
        job = {"kind": AGENT_TURN, "input": text, "group_id": group_id, "task": task}
        try:
            run = self.create(tenant, agent_id, job, metadata, run_id=run_id)
        except ConcurrentModificationError:
            if run_id is None:
                raise
            return run_id  # saved (and started) by the attempt this one resumes
        self.start(tenant, run)
        return run.id

    # -- reading and deleting ------------------------------------------------------------

    def get_record(self, tenant: str, run_id: str) -> RunRecord:
        run = self._store.get(tenant, RunRecord, run_id)
        if run is None:
            raise NotFoundError(f"Run not found: {run_id}")
        return run

    def get(self, tenant: str, run_id: str) -> Run:
        return run_to_wire(self.get_record(tenant, run_id))

    @retry_on_conflict("the run")
    def delete(self, tenant: str, run_id: str) -> None:
        """Forget the run; the messages it produced stay in the agent's history. A run still
        executing finishes its work but no longer records its end."""
        uow = UnitOfWork(self._store, tenant, self._clock)
        uow.remove(uow.load(RunRecord, run_id))
        uow.commit()

    def list_messages(
        self, tenant: str, run_id: str, page: PageRequest, options: RenderOptions
    ) -> list[LettaMessage]:
        run = self.get_record(tenant, run_id)
        return self._messages.page(tenant, run, page, options)

    def list(self, tenant: str, page: PageRequest, where: RunFilter) -> builtins.list[Run]:
        """Runs of the tenant, filtered where they are stored."""
        return [run_to_wire(r) for r in self._store.list(tenant, RunRecord, page, where.filters())]

    def usage(self, tenant: str, run_id: str) -> RunUsage:
        run = self.get_record(tenant, run_id)
        return RunUsage(
            completion_tokens=run.completion_tokens,
            prompt_tokens=run.prompt_tokens,
            total_tokens=run.prompt_tokens + run.completion_tokens,
        )

    def messages_after(
        self, tenant: str, run_id: str, seq: int, limit: int
    ) -> tuple[builtins.list[MessageRecord], RunRecord]:
        """Up to `limit` of the run's messages after `seq`, oldest first, and the run as it
        was read before them (so a finished run read here has nothing after these)."""
        run = self.get_record(tenant, run_id)
        return self._messages.after(tenant, run, seq, limit), run

    # -- after a restart -----------------------------------------------------------------

    def recover(self, tenant: str) -> builtins.list[str]:
        """For a process that runs its runs itself (`make run`), at start-up: the runs a
        previous process left `created` are started, and those it left `running` (their
        worker died with it) are handed to the launcher as abandoned, so a group send
        resumes from its last committed turn and other kinds end failed. Returns their ids."""
        left: builtins.list[RunRecord] = []
        after: str | None = None
        while True:
            page = PageRequest(limit=100, order="asc", after=after)
            batch = self._store.list(
                tenant, RunRecord, page, RunFilter(statuses=("created", "running")).filters()
            )
            left.extend(batch)
            if len(batch) < 100:
                break
            after = batch[-1].id
        for run in left:
            if run.status == "running":
                self._mark_abandoned(tenant, run.id)
            self.start(tenant, run.id)
        return [run.id for run in left]

    @retry_on_conflict("the run")
    def _mark_abandoned(self, tenant: str, run_id: str) -> None:
        """Date the run's start back past STALE_AFTER: the process that started it is gone."""
        uow = UnitOfWork(self._store, tenant, self._clock)
        run = uow.load(RunRecord, run_id)
        if run.status == "running":
            run.started_at = uow.now - STALE_AFTER - timedelta(seconds=1)
            uow.touch(run)
            uow.commit()

    # -- executing -----------------------------------------------------------------------

    def execute(self, tenant: str, run_id: str) -> None:
        """Run the job of a `created` run to its end and record it. Never raises; a run that
        is missing (deleted) or was already picked up is left alone, so a launcher that
        delivers a run twice does no harm."""
        self.attempt(tenant, run_id)

    def attempt(self, tenant: str, run_id: str) -> RunAttempt:
        """`execute`, saying how it left the run: a queue worker retries a delivery only when
        the run could not be started (`not_started`). Never raises."""
        with bind(tenant=tenant, run_id=run_id):
            return self._attempt(tenant, run_id)

    def _attempt(self, tenant: str, run_id: str) -> RunAttempt:
        try:
            run = self._begin(tenant, run_id)
        except Exception:
            logger.exception("run %s: could not be started", run_id)
            return "not_started"
        if run is None:
            return "skipped"
        try:
            outcome = self._handler(run)(tenant, run)
        except RetryLater:
            logger.info("run %s: cannot resume yet; a later delivery will", run_id)
            try:
                self._mark_abandoned(tenant, run_id)  # so that delivery resumes it
            except Exception:
                logger.exception("run %s: could not be marked for a later delivery", run_id)
            return "not_started"
        except Exception as exc:
            logger.exception("run %s: its %r handler failed", run_id, run.job.get("kind"))
            ended = self._safely_finish(tenant, run_id, None, f"{type(exc).__name__}: {exc}")
        else:
            ended = self._safely_finish(tenant, run_id, outcome, None)
        if ended == "finished" and self._on_finished is not None:
            try:
                self._on_finished(tenant, run_id)
            except Exception:
                logger.exception("run %s: reporting its end failed", run_id)
        return ended

    def _handler(self, run: RunRecord) -> RunHandler:
        kind = run.job.get("kind")
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            raise ValueError(f"No run handler is registered for job kind {kind!r}.")
        return handler

    @retry_on_conflict("the run")
    def _begin(self, tenant: str, run_id: str) -> RunRecord | None:
        """`created` → `running` (a conditional write: one delivery wins), or, for a run
        whose worker died (still `running` past STALE_AFTER), the next attempt: resumed
        when its kind can be, else ended as failed. None: nothing for this delivery."""
        uow = UnitOfWork(self._store, tenant, self._clock)
        found = uow.load_existing(RunRecord, [run_id])
        if not found:
            return None
        run = found[0]
        if run.status == "created":
            agents = uow.load_existing(AgentRecord, [run.agent_id])
            run.first_seq = agents[0].next_message_seq if agents else None
        elif not self._abandoned(run, uow.now):
            return None
        elif run.job.get("kind") not in self._resumable or run.attempts >= MAX_ATTEMPTS:
            run.status, run.stop_reason, run.completed_at = "failed", "error", uow.now
            run.error = f"Its worker stopped before it finished ({run.attempts} attempt(s))."
            uow.touch(run)
            uow.commit()
            logger.warning("run %s: %s", run_id, run.error)
            return None
        run.status = "running"
        run.started_at = uow.now
        run.attempts += 1
        uow.touch(run)
        uow.commit()
        return run

    @staticmethod
    def _abandoned(run: RunRecord, now: datetime) -> bool:
        started = run.started_at
        return run.status == "running" and started is not None and now - started > STALE_AFTER

    def _safely_finish(
        self, tenant: str, run_id: str, outcome: RunOutcome | None, error: str | None
    ) -> RunAttempt:
        try:
            self._finish(tenant, run_id, outcome, error)
        except Exception:
            logger.exception("run %s: could not record its end", run_id)
            return "end_unrecorded"
        return "finished"

    @retry_on_conflict("the run")
    def _finish(
        self, tenant: str, run_id: str, outcome: RunOutcome | None, error: str | None
    ) -> None:
        uow = UnitOfWork(self._store, tenant, self._clock)
        found = uow.load_existing(RunRecord, [run_id])
        if not found or found[0].status in ("completed", "failed"):
            return
        run = found[0]
        if run.status == "cancelled" and run.completed_at is not None:
            return
        cancelled = run.status == "cancelled"
        if outcome is None:
            run.status, run.stop_reason, run.error = "failed", "error", error
            seqs = self._messages.tagged_seqs(tenant, run)
        else:
            run.stop_reason = outcome.stop_reason
            run.status = status_for(outcome.stop_reason)  # type: ignore[assignment]
            seqs = [m.seq for m in outcome.messages if m.parent_id == run.agent_id and m.seq > 0]
            usage = getattr(outcome, "usage", None)
            if usage is not None:
                run.step_count = usage.step_count
                run.prompt_tokens = usage.prompt_tokens
                run.completion_tokens = usage.completion_tokens
        run.first_seq, run.last_seq = (min(seqs), max(seqs)) if seqs else (None, None)
        if cancelled:  # cancelled while it worked: it stopped as soon as it could
            run.status, run.stop_reason = "cancelled", "cancelled"
        run.completed_at = uow.now
        uow.touch(run)
        uow.commit()

    def agent_turn(self, tenant: str, run: RunRecord) -> RunOutcome:
        """Built-in job `{"kind": "agent_turn", "input": str, "max_steps"?: int,
        "group_id"?: str, "task"?: ModelTask}`: the agent takes one turn on the input as a
        user message, every message tagged with the run; `task` tells the model what the
        turn is for ("remember" for a sleeptime agent's pass)."""
        job = run.job
        group_id = job.get("group_id")
        task = job.get("task", "respond")
        if task not in get_args(ModelTask):
            raise ValueError(f"Unknown model task {task!r}; one of {get_args(ModelTask)}.")
        message = MessageRecord(
            id=ids.new_id(ids.MESSAGE),
            created_at=self._clock.now(),
            parent_id=run.agent_id,
            seq=0,
            role="user",
            text=str(job.get("input", "")),
            run_id=run.id,
            group_id=group_id,
        )
        options = TurnOptions(
            max_steps=int(job.get("max_steps", 50)),
            run_id=run.id,
            group_id=group_id,
            task=task,
        )
        return self._loop.run(tenant, run.agent_id, [message], options)
