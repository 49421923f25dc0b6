"""RunLaunchers that execute runs inside this process.

`InProcessLauncher` runs each launched run on a thread pool; it is what `make run` and the
tests use. On AWS Lambda it is not enough: the execution environment is frozen when the
invocation that launched the run returns, so a thread started there stalls or dies with it.
A later issue adds a cloud launcher that sends the run id to a worker (SQS / asynchronous
Lambda) that calls `RunService.execute`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

logger = logging.getLogger(__name__)

Executor = Callable[[str, str], None]
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

    def _run(self, tenant: str, run_id: str) -> None:
        try:
            self._executor(tenant, run_id)
        except Exception:
            logger.exception("run %s: its executor raised", run_id)
        finally:
            self._finished()

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
