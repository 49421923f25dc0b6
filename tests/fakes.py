"""In-memory fakes of core's ports, for unit tests of core without DynamoDB."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from core.errors import ConcurrentModificationError
from core.paging import PageRequest, paginate
from core.ports import Change, Delete, Put
from core.records import Record

R = TypeVar("R", bound=Record)


class FakeClock:
    """Advances one millisecond per reading, so creation order is always strict."""

    def __init__(self) -> None:
        self._now = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        self._now += timedelta(milliseconds=1)
        return self._now


class InMemoryStore:
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

    def count(self, tenant: str, kind: type[Record]) -> int:
        return sum(1 for (t, k, _) in self.records if t == tenant and k == kind.KIND)

    def write(self, tenant: str, changes: Sequence[Change]) -> None:
        for change in changes:
            kind = change.record.KIND if isinstance(change, Put) else change.kind.KIND
            record_id = change.record.id if isinstance(change, Put) else change.id
            record_type = type(change.record) if isinstance(change, Put) else change.kind
            current = self.get(tenant, record_type, record_id)
            expected = change.expected_version
            if (expected is None and current is not None) or (
                expected is not None and (current is None or current.version != expected)
            ):
                raise ConcurrentModificationError(f"{kind} {record_id} changed")
        for change in changes:
            if isinstance(change, Put):
                key = (tenant, change.record.KIND, change.record.id)
                self.records[key] = change.record.model_dump_json()
            elif isinstance(change, Delete):
                self.records.pop((tenant, change.kind.KIND, change.id), None)
        self.writes += 1
