"""The ports core talks to the world through. Infra implements them; tests fake them."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from core.errors import RecordTooLargeError, TooManyChangesError
from core.filters import Filter, Kept, projection
from core.paging import PageRequest
from core.records import ChildRecord, Record

if TYPE_CHECKING:  # the model port's types load with the agent loop, not with the store
    from core.llm import ModelTask

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
    from a database's constants. Every store enforces them in `write` (`check_write`)."""

    max_changes_per_write: int
    """Most records one atomic `write` may change."""
    max_record_bytes: int
    """Largest stored record, as `record_bytes` measures it."""
    max_write_bytes: int
    """Largest total of the records one atomic `write` puts."""


class DuplicateChangeError(ValueError):
    """Two changes of one write name the same stored record. A bug in the caller, never
    the client's fault: DynamoDB refuses such a transaction, so every store does."""


def record_identity(record: Record) -> tuple[str | int, ...]:
    """What names a stored record: its kind and id, or for a child its parent and seq
    (as `get_child` finds it), so two children at one seq are one record."""
    if isinstance(record, ChildRecord):
        return (record.PARENT_KIND, record.parent_id, record.KIND, record.seq)
    return (record.KIND, record.id)


def record_bytes(record: Record) -> int:
    """The size a store gives a record: its JSON document plus the values kept to filter
    it (core.filters.projection), names included. Keys are left to the store's margin."""
    return len(record.model_dump_json().encode()) + sum(
        len(name) + _kept_bytes(value) for name, value in projection(record).items()
    )


def check_write(changes: Sequence[Change], limits: StoreLimits) -> None:
    """Refuse, before anything is written, a write no store may make: too many changes
    (TooManyChangesError), two changes to one record (DuplicateChangeError), a record or a
    whole write too large (RecordTooLargeError). Both stores call this, so they refuse the
    same writes."""
    if len(changes) > limits.max_changes_per_write:
        raise TooManyChangesError(
            f"This change touches {len(changes)} records; at most "
            f"{limits.max_changes_per_write} can change atomically. "
            "Split it into smaller changes."
        )
    seen: set[tuple[str | int, ...]] = set()
    for change in changes:
        identity = record_identity(change.record)
        if identity in seen:
            raise DuplicateChangeError(
                f"{change.record.KIND} {change.record.id} is changed twice in one write."
            )
        seen.add(identity)
    total = 0
    for change in changes:
        if isinstance(change, Put):
            size = record_bytes(change.record)
            if size > limits.max_record_bytes:
                raise RecordTooLargeError(
                    f"The {change.record.KIND} {change.record.id} would be {size} bytes once "
                    f"stored; a record holds at most {limits.max_record_bytes}."
                )
            total += size
    if total > limits.max_write_bytes:
        raise RecordTooLargeError(
            f"This change would write {total} bytes at once; at most "
            f"{limits.max_write_bytes} can be written atomically. Send less at a time."
        )


def _kept_bytes(value: Kept) -> int:
    if isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return len(value.encode())
    return 3 + sum(1 + len(item.encode()) for item in value)


class Store(Protocol):
    """Tenant-scoped persistence of records.

    Every implementation passes tests/contract/test_store_contract.py.
    """

    # Annotations in this class body say builtins.list: a bare `list` after `def list`
    # names the method, not the type.

    limits: StoreLimits

    def get(self, tenant: str, kind: type[R], record_id: str) -> R | None:
        """A record (not a child) by id, strongly consistent; None if it does not exist."""
        ...

    def get_many(self, tenant: str, kind: type[R], record_ids: Sequence[str]) -> dict[str, R]:
        """The records that exist among `record_ids`, by id, strongly consistent."""
        ...

    def list(
        self,
        tenant: str,
        kind: type[R],
        page: PageRequest,
        filters: Sequence[Filter] = (),
    ) -> builtins.list[R]:
        """One page of a kind's records in creation order (core.paging's cursor rules),
        keeping those that pass every filter (core.filters; the store applies them where
        the data is). Cursors are ids of records of the kind, filtered out or not; an
        unknown one is a BadRequestError. A filter the kind does not declare: ValueError."""
        ...

    def count(self, tenant: str, kind: type[Record]) -> int:
        """How many records of a kind the tenant has."""
        ...

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
    ) -> builtins.list[C]:
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

    def write(self, tenant: str, changes: Sequence[Change]) -> None:
        """Apply every change or none. A change whose record's version is not the one it
        expects (or a create of a record that exists) fails the whole write with
        ConcurrentModificationError naming those records ("<kind> <id>"); a write
        `check_write` refuses fails with its error. Writing no changes does nothing."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class RunLauncher(Protocol):
    """Starts a saved Run (see RunService) in the background.

    `launch` must return quickly: it only hands the run over, and whoever picks it up calls
    `RunService.execute(tenant, run_id)` (or `attempt`). Locally and in tests that is a thread
    pool in this process (infra.launchers.InProcessLauncher); in the cloud an SQS queue feeds
    a worker function (infra.launchers.SqsLauncher, handler.worker_entry), because threads of
    a Lambda invocation do not outlive it.
    """

    def launch(self, tenant: str, run_id: str) -> None: ...


class BackgroundRuns(Protocol):
    """Starts agent work that outlives the request (a sleeptime agent's pass) as a Run.

    `start_turn` saves the run, hands it to the launcher and returns its id at once; the
    agent later takes one turn on `text` as a user message. RunService implements it. With a
    `run_id`, starting the same run twice (a resumed send) starts it once.
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
        run_id: str | None = None,
    ) -> str: ...


class Metrics(Protocol):
    """Where core counts and times what it does (EMF metrics in Lambda, infra.metrics).

    Dimensions are few and low-cardinality (a provider, a manager type, a stop reason);
    anything with many values (an agent id) goes in `properties`, which are kept with the
    data point but not aggregated by."""

    def count(
        self,
        name: str,
        value: float = 1,
        *,
        properties: dict[str, str] | None = None,
        **dimensions: str,
    ) -> None: ...

    def timing(
        self, name: str, ms: float, *, properties: dict[str, str] | None = None, **dimensions: str
    ) -> None: ...


class NoMetrics:
    """The default Metrics: records nothing."""

    def count(
        self,
        name: str,
        value: float = 1,
        *,
        properties: dict[str, str] | None = None,
        **dimensions: str,
    ) -> None:
        return None

    def timing(
        self, name: str, ms: float, *, properties: dict[str, str] | None = None, **dimensions: str
    ) -> None:
        return None


NO_METRICS: Metrics = NoMetrics()


@dataclass(frozen=True)
class CallbackResult:
    """How reporting a finished run to its callback_url went."""

    status_code: int | None
    error: str | None


class Callbacks(Protocol):
    """Reports finished runs to the URL their sender gave (`callback_url`)."""

    def refusal(self, url: str) -> str | None:
        """Why this URL may not be called (not https; a private, loopback or link-local
        address), or None when it may."""
        ...

    def deliver(self, url: str, payload: dict[str, Any]) -> CallbackResult:
        """POST `payload` as JSON, with bounded retries and a timeout. Never raises."""
        ...
