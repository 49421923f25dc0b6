"""In-memory fakes of core's ports, for unit tests of core without DynamoDB."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from core.errors import ConcurrentModificationError
from core.filters import Filter, check_filters, matches
from core.paging import PageRequest, paginate
from core.ports import Change, Put, StoreLimits, check_write, record_identity
from core.records import ChildRecord, Record
from infra.dynamodb_store import DYNAMODB_LIMITS

R = TypeVar("R", bound=Record)
C = TypeVar("C", bound=ChildRecord)


class FakeClock:
    """Advances one millisecond per reading, so creation order is always strict."""

    def __init__(self) -> None:
        self._now = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        self._now += timedelta(milliseconds=1)
        return self._now


class InMemoryStore:
    """core.ports.Store in a dict, answering as DynamoDBStore does (the contract suite in
    tests/contract holds both to it): records keyed as DynamoDB keys them (a child by its
    parent and seq), filters judged on the same projection, the same limits refused."""

    def __init__(self, limits: StoreLimits = DYNAMODB_LIMITS) -> None:
        self.limits = limits
        self.items: dict[tuple[str, tuple[str | int, ...]], str] = {}
        """(tenant, core.ports.record_identity) -> the record's JSON."""
        self.writes = 0

    def get(self, tenant: str, kind: type[R], record_id: str) -> R | None:
        if issubclass(kind, ChildRecord):
            return None  # children are read by parent (get_child) or index (find_child)
        doc = self.items.get((tenant, (kind.KIND, record_id)))
        return kind.model_validate_json(doc) if doc else None

    def get_many(self, tenant: str, kind: type[R], record_ids: Sequence[str]) -> dict[str, R]:
        found = {i: self.get(tenant, kind, i) for i in record_ids}
        return {i: r for i, r in found.items() if r is not None}

    def list(
        self,
        tenant: str,
        kind: type[R],
        page: PageRequest,
        filters: Sequence[Filter] = (),
    ) -> list[R]:
        check_filters(kind, filters)
        records = [r for r in self._all(tenant, kind) if not isinstance(r, ChildRecord)]
        records.sort(key=lambda r: (r.created_at, r.id))
        return paginate(records, page, lambda r: r.id, lambda r: matches(r, filters))

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
        found = [
            r
            for r in self._all(tenant, kind)
            if r.parent_id == parent_id
            and (after_seq is None or r.seq > after_seq)
            and (before_seq is None or r.seq < before_seq)
        ]
        found.sort(key=lambda r: r.seq, reverse=newest_first)
        return found[: max(limit, 0)]

    def get_child(self, tenant: str, kind: type[C], parent_id: str, seq: int) -> C | None:
        doc = self.items.get((tenant, (kind.PARENT_KIND, parent_id, kind.KIND, seq)))
        return kind.model_validate_json(doc) if doc else None

    def find_child(self, tenant: str, kind: type[C], child_id: str) -> C | None:
        return next((r for r in self._all(tenant, kind) if r.id == child_id), None)

    def count(self, tenant: str, kind: type[Record]) -> int:
        return sum(
            1
            for t, identity in self.items
            if t == tenant and len(identity) == 2 and identity[0] == kind.KIND
        )

    def write(self, tenant: str, changes: Sequence[Change]) -> None:
        check_write(changes, self.limits)
        failed = [change for change in changes if not self._holds(tenant, change)]
        if failed:
            raise ConcurrentModificationError(
                "A record changed while this request was writing it.",
                tuple(f"{c.record.KIND} {c.record.id}" for c in failed),
            )
        for change in changes:
            key = (tenant, record_identity(change.record))
            if isinstance(change, Put):
                self.items[key] = change.record.model_dump_json()
            else:
                self.items.pop(key, None)
        if changes:
            self.writes += 1

    def _holds(self, tenant: str, change: Change) -> bool:
        """Whether the change's condition holds: absent for a create, else the version."""
        doc = self.items.get((tenant, record_identity(change.record)))
        if isinstance(change, Put) and change.expected_version is None:
            return doc is None
        return doc is not None and json.loads(doc)["version"] == change.expected_version

    def _all(self, tenant: str, kind: type[R]) -> list[R]:
        """Every stored record of one kind (children included) in the tenant."""
        return [
            kind.model_validate_json(doc)
            for (t, identity), doc in self.items.items()
            if t == tenant and _kind_of(identity) == kind.KIND
        ]


def _kind_of(identity: tuple[str | int, ...]) -> str | int:
    """The kind in a record_identity: (kind, id) or (parent kind, parent, kind, seq)."""
    return identity[0] if len(identity) == 2 else identity[2]


class ScriptedModel:
    """A ModelClient that plays back a script: each call takes the next item, which is a
    ChatResponse to return, a ModelError to raise, or a function of the request. Every
    ChatRequest is kept in `requests`, so tests can assert exactly what the model saw."""

    def __init__(self, *script: _ScriptItem) -> None:
        self.script: list[_ScriptItem] = list(script)
        self.requests: list[ChatRequest] = []

    def queue(self, *items: _ScriptItem) -> None:
        self.script.extend(items)

    def complete(self, request: ChatRequest) -> ChatResponse:
        from core.llm import ModelError

        self.requests.append(request)
        if not self.script:
            raise AssertionError(
                f"ScriptedModel got request #{len(self.requests)} but its script is empty; "
                f"last message: {request.messages[-1] if request.messages else None}"
            )
        item = self.script.pop(0)
        if isinstance(item, ModelError):
            raise item
        return item(request) if callable(item) else item


class RecordingModel:
    """The offline model, keeping every request it answers (what each call was shown)."""

    def __init__(self) -> None:
        from infra.providers.offline import OfflineModel

        self.inner = OfflineModel()
        self.requests: list[ChatRequest] = []

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        return self.inner.complete(request)


if TYPE_CHECKING:
    from core.llm import ChatRequest, ChatResponse, ModelError

    _ScriptItem = ChatResponse | ModelError | Callable[[ChatRequest], ChatResponse]


class RecordingMetrics:
    """core.ports.Metrics that keeps every data point: (name, value, dimensions, properties)."""

    def __init__(self) -> None:
        self.points: list[tuple[str, float, dict[str, str], dict[str, str]]] = []
        self._lock = threading.Lock()

    def count(
        self,
        name: str,
        value: float = 1,
        *,
        properties: dict[str, str] | None = None,
        **dimensions: str,
    ) -> None:
        with self._lock:
            self.points.append((name, value, dimensions, properties or {}))

    def timing(
        self, name: str, ms: float, *, properties: dict[str, str] | None = None, **dimensions: str
    ) -> None:
        self.count(name, ms, properties=properties, **dimensions)

    def named(self, name: str) -> list[tuple[float, dict[str, str], dict[str, str]]]:
        return [(v, d, p) for n, v, d, p in self.points if n == name]


class Killed(BaseException):
    """The process was stopped (a Lambda timeout, a kill): nothing after this point runs,
    not even a `finally`'s write, which is what crash-resume tests need."""


class Mortal:
    """A store mixin whose process can die: once `dead`, every write fails as the process
    would (Killed), so what a send left behind is what a killed one leaves."""

    dead = False

    def write(self, tenant: str, changes: Sequence[Change]) -> None:
        if self.dead:
            raise Killed()
        super().write(tenant, changes)  # type: ignore[misc]


class MortalStore(Mortal, InMemoryStore):
    """InMemoryStore that can die (tests/fakes.Mortal)."""
