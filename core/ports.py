"""The ports core talks to the world through. Infra implements them; tests fake them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from core.llm import ModelTask
from core.paging import PageRequest
from core.records import ChildRecord, Record

R = TypeVar("R", bound=Record)
C = TypeVar("C", bound=ChildRecord)


@dataclass(frozen=True)
class Put:
    """Write a whole record. `expected_version=None` means it must not exist yet."""

    record: Record
    expected_version: int | None


@dataclass(frozen=True)
class Delete:
    """Remove a record, failing if it changed since it was read."""

    record: Record
    expected_version: int


Change = Put | Delete


@dataclass(frozen=True)
class StoreLimits:
    """What one store can do at once; core sizes its writes and records from these, never
    from a database's constants."""

    max_changes_per_write: int
    """Most records one atomic `write` may change."""
    max_record_bytes: int
    """Largest stored record (its JSON document plus keys)."""


class Store(Protocol):
    """Tenant-scoped persistence of records.

    `write` is all-or-nothing: if any record's version differs from what the change
    expects, nothing is written and ConcurrentModificationError is raised.
    """

    limits: StoreLimits

    def get(self, tenant: str, kind: type[R], record_id: str) -> R | None: ...

    def get_many(self, tenant: str, kind: type[R], record_ids: Sequence[str]) -> dict[str, R]: ...

    def list(
        self,
        tenant: str,
        kind: type[R],
        page: PageRequest,
        where: Callable[[R], bool] | None = None,
    ) -> list[R]: ...

    def count(self, tenant: str, kind: type[Record]) -> int: ...

    def children(
        self,
        tenant: str,
        kind: type[C],
        parent_id: str,
        *,
        limit: int,
        after_seq: int | None = None,
        before_seq: int | None = None,
        newest_first: bool = False,
    ) -> list[C]:
        """Child records of one parent by `seq`, strictly between the bounds, nearest
        first in the direction read (newest_first reads backwards from `before_seq`)."""
        ...

    def get_child(self, tenant: str, kind: type[C], parent_id: str, seq: int) -> C | None:
        """A child record by its key (parent and seq), strongly consistent: for reads that
        must see the latest write (a pending approval, the last processed message)."""
        ...

    def find_child(self, tenant: str, kind: type[C], child_id: str) -> C | None:
        """A child record by its id alone. Eventually consistent (an index): for cursors
        and other ids a client hands back, never for state a write just made."""
        ...

    def write(self, tenant: str, changes: Sequence[Change]) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class RunLauncher(Protocol):
    """Starts a saved Run (see RunService) in the background.

    `launch` must return quickly: it only hands the run over, and whoever picks it up calls
    `RunService.execute(tenant, run_id)`. Locally and in tests that is a thread pool in this
    process (infra.launchers.InProcessLauncher); the cloud implementation (a later issue)
    sends the run id to a worker (SQS or an asynchronous Lambda invocation), because threads
    of a Lambda invocation do not outlive it.
    """

    def launch(self, tenant: str, run_id: str) -> None: ...


class BackgroundRuns(Protocol):
    """Starts agent work that outlives the request (a sleeptime agent's pass) as a Run.

    `start_turn` saves the run, hands it to the launcher and returns its id at once; the
    agent later takes one turn on `text` as a user message. RunService implements it.
    """

    def start_turn(
        self,
        tenant: str,
        agent_id: str,
        text: str,
        *,
        task: ModelTask,
        group_id: str | None,
        metadata: dict[str, Any],
    ) -> str: ...
