"""RunLaunchers: where a launched run executes.

`SqsLauncher` (the cloud) sends the run to an SQS queue; the worker function
(handler.worker_entry) picks it up and calls `RunService.attempt`. A thread started by a
Lambda invocation does not outlive it (the environment is frozen once the response is
returned), so on Lambda runs must leave the process.

`InProcessLauncher` runs each launched run on a thread pool of this process: what `make run`
and the API tests use. `SynchronousLauncher` runs it at once, for unit tests.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import BaseModel

logger = logging.getLogger(__name__)

Executor = Callable[[str, str], object]
"""Runs one run: RunService.attempt (or execute). An attempt answering `not_started` is
tried again later by the in-process launcher, as SQS redelivers it in the cloud."""

RETRY_AFTER_S = 30.0
RETRIES = 5
"""`executor(tenant, run_id)`, normally RunService.execute."""


class _LateBound:
    """Raises until an executor is bound (the launcher is built before the RunService)."""

    def __call__(self, tenant: str, run_id: str) -> None:
        raise RuntimeError("No run executor is bound to this launcher yet.")


class InProcessLauncher:
    """Executes launched runs on a ThreadPoolExecutor; `launch` returns at once."""

    def __init__(self, executor: Executor | None = None, max_workers: int = 4) -> None:
        self._executor: Executor = executor or _LateBound()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="run")
        self._idle = threading.Condition()
        self._active = 0

    def bind(self, executor: Executor) -> None:
        """Set the executor late (the composition root builds the launcher first)."""
        self._executor = executor

    def launch(self, tenant: str, run_id: str) -> None:
        with self._idle:
            self._active += 1
        try:
            self._pool.submit(self._run, tenant, run_id)
        except BaseException:
            self._finished()
            raise

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no launched run is left (runs launched meanwhile included); False
        if some are still running after `timeout` seconds."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout=timeout)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait)

    def _run(self, tenant: str, run_id: str, tries: int = 0) -> None:
        try:
            outcome = self._executor(tenant, run_id)
        except Exception:
            logger.exception("run %s: its executor raised", run_id)
        else:
            if outcome == "not_started" and tries < RETRIES:
                self._later(tenant, run_id, tries + 1)
        finally:
            self._finished()

    def _later(self, tenant: str, run_id: str, tries: int) -> None:
        """Try a run that could not start again in RETRY_AFTER_S (counted as active)."""
        with self._idle:
            self._active += 1

        def again() -> None:
            try:
                self._pool.submit(self._run, tenant, run_id, tries)
            except RuntimeError:  # shut down meanwhile
                self._finished()

        timer = threading.Timer(RETRY_AFTER_S, again)
        timer.daemon = True
        timer.start()

    def _finished(self) -> None:
        with self._idle:
            self._active -= 1
            self._idle.notify_all()


class SynchronousLauncher:
    """Executes a launched run at once, in the caller's thread (for unit tests)."""

    def __init__(self, executor: Executor | None = None) -> None:
        self._executor: Executor = executor or _LateBound()
        self.launched: list[tuple[str, str]] = []

    def bind(self, executor: Executor) -> None:
        self._executor = executor

    def launch(self, tenant: str, run_id: str) -> None:
        self.launched.append((tenant, run_id))
        self._executor(tenant, run_id)


class RunMessage(BaseModel):
    """The body of a run's queue message: all the worker needs to execute the run (its job
    is in the run record, so no user content ever sits in the queue)."""

    tenant: str
    run_id: str


class SqsLauncher:
    """Sends each launched run to an SQS queue as a RunMessage; `launch` returns once SQS
    has it. Delivery is at least once: the worker's conditional start keeps a run that is
    delivered twice from running twice."""

    def __init__(self, client: Any, queue_url: str) -> None:
        """`client`: a boto3 SQS client, created once per process."""
        self._client = client
        self._queue_url = queue_url

    def reconnect(self, client: Any) -> None:
        """Use a new client from now on (after a SnapStart restore)."""
        self._client = client

    def launch(self, tenant: str, run_id: str) -> None:
        body = RunMessage(tenant=tenant, run_id=run_id).model_dump_json()
        self._client.send_message(QueueUrl=self._queue_url, MessageBody=body)
