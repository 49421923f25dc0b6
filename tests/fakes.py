"""In-memory fakes of core's ports, for unit tests of core without DynamoDB."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from core.errors import ConcurrentModificationError
from core.paging import PageRequest, paginate
from core.ports import Change, Delete, Put, StoreLimits
from core.records import ChildRecord, Record

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
    limits = StoreLimits(max_changes_per_write=100, max_record_bytes=400_000)

    def __init__(self) -> None:
        self.records: dict[tuple[str, str, str], str] = {}
        self.writes = 0

    def get(self, tenant: str, kind: type[R], record_id: str) -> R | None:
        doc = self.records.get((tenant, kind.KIND, record_id))
        return kind.model_validate_json(doc) if doc else None

    def get_many(self, tenant: str, kind: type[R], record_ids: Sequence[str]) -> dict[str, R]:
        found = {i: self.get(tenant, kind, i) for i in record_ids}
        return {i: r for i, r in found.items() if r is not None}

    def list(
        self,
        tenant: str,
        kind: type[R],
        page: PageRequest,
        where: Callable[[R], bool] | None = None,
    ) -> list[R]:
        records = [
            kind.model_validate_json(doc)
            for (t, k, _), doc in self.records.items()
            if t == tenant and k == kind.KIND
        ]
        records.sort(key=lambda r: (r.created_at, r.id))
        return paginate(records, page, lambda r: r.id, where)

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
            for r in (
                kind.model_validate_json(doc)
                for (t, k, _), doc in self.records.items()
                if t == tenant and k == kind.KIND
            )
            if r.parent_id == parent_id
            and (after_seq is None or r.seq > after_seq)
            and (before_seq is None or r.seq < before_seq)
        ]
        found.sort(key=lambda r: r.seq, reverse=newest_first)
        return found[:limit]

    def get_child(self, tenant: str, kind: type[C], parent_id: str, seq: int) -> C | None:
        found = self.children(tenant, kind, parent_id, limit=1, after_seq=seq - 1)
        return found[0] if found and found[0].seq == seq else None

    def find_child(self, tenant: str, kind: type[C], child_id: str) -> C | None:
        return self.get(tenant, kind, child_id)

    def count(self, tenant: str, kind: type[Record]) -> int:
        return sum(1 for (t, k, _) in self.records if t == tenant and k == kind.KIND)

    def write(self, tenant: str, changes: Sequence[Change]) -> None:
        for change in changes:
            kind, record_id = change.record.KIND, change.record.id
            current = self.get(tenant, type(change.record), record_id)
            expected = change.expected_version
            if (expected is None and current is not None) or (
                expected is not None and (current is None or current.version != expected)
            ):
                raise ConcurrentModificationError(
                    f"{kind} {record_id} changed", (f"{kind} {record_id}",)
                )
        for change in changes:
            if isinstance(change, Put):
                key = (tenant, change.record.KIND, change.record.id)
                self.records[key] = change.record.model_dump_json()
            elif isinstance(change, Delete):
                self.records.pop((tenant, change.record.KIND, change.record.id), None)
        self.writes += 1


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


if TYPE_CHECKING:
    from core.llm import ChatRequest, ChatResponse, ModelError

    _ScriptItem = ChatResponse | ModelError | Callable[[ChatRequest], ChatResponse]
