"""Load, change and atomically save several records; the one write path of every use-case.

A use-case loads what it touches through a UnitOfWork, edits the records in place and
commits: each record goes out once with the version it was read at, so a concurrent
change anywhere aborts the whole write instead of half-applying it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from core.errors import NotFoundError, some
from core.ports import Change, Clock, Delete, Put, Store
from core.records import Record

R = TypeVar("R", bound=Record)


class UnitOfWork:
    def __init__(self, store: Store, tenant: str, clock: Clock) -> None:
        self._store = store
        self._tenant = tenant
        self._clock = clock
        self._loaded: dict[tuple[str, str], Record] = {}
        self._versions: dict[tuple[str, str], int] = {}
        self._new: dict[tuple[str, str], Record] = {}
        self._changed: dict[tuple[str, str], Record] = {}
        self._removed: dict[tuple[str, str], Record] = {}

    @property
    def now(self) -> datetime:
        return self._clock.now()

    def load(self, kind: type[R], record_id: str) -> R:
        """The record, or NotFoundError naming it."""
        return self.load_many(kind, [record_id])[0]

    def load_many(self, kind: type[R], record_ids: Sequence[str]) -> list[R]:
        """Records in the order asked; NotFoundError lists every id that is missing."""
        found = self.load_existing(kind, record_ids)
        if len(found) < len(record_ids):
            present = {r.id for r in found}
            names = some(list(dict.fromkeys(i for i in record_ids if i not in present)))
            raise NotFoundError(f"{kind.KIND.capitalize()} not found: {names}")
        return found

    def load_existing(self, kind: type[R], record_ids: Sequence[str]) -> list[R]:
        """The records that exist, in the order asked; a dangling reference is skipped."""
        wanted = [i for i in dict.fromkeys(record_ids) if (kind.KIND, i) not in self._loaded]
        if wanted:
            found = self._store.get_many(self._tenant, kind, wanted)
            for record_id, record in found.items():
                self._loaded[(kind.KIND, record_id)] = record
                self._versions[(kind.KIND, record_id)] = record.version
        return [
            self._loaded[(kind.KIND, i)]  # type: ignore[misc]
            for i in record_ids
            if (kind.KIND, i) in self._loaded
        ]

    def track(self, kind: type[R], record: R) -> R:
        """Take a record read elsewhere (a child found by a query, or a copy this request
        already holds) as loaded: it commits with a check against its version, so a stale
        copy fails the write instead of overwriting a newer one."""
        key = (kind.KIND, record.id)
        self._loaded[key] = record
        self._versions[key] = record.version
        return record

    def reload(self, kind: type[R], known: R, attempt: int) -> R:
        """For an optimistic retry: on the first attempt a copy of the record this request
        already holds (saving a read; the version check catches a stale copy), after a
        lost race the record as stored now."""
        if attempt == 0:
            return self.track(kind, known.model_copy(deep=True))
        return self.load(kind, known.id)

    def add(self, record: Record) -> None:
        key = (record.KIND, record.id)
        self._loaded[key] = record
        self._new[key] = record

    def touch(self, record: Record) -> None:
        """Mark a loaded record as changed, so commit writes it."""
        key = (record.KIND, record.id)
        if key not in self._new:
            self._changed[key] = record

    def remove(self, record: Record) -> None:
        key = (record.KIND, record.id)
        self._changed.pop(key, None)
        self._removed[key] = record

    def commit(self) -> None:
        changes: list[Change] = [Put(r, None) for r in self._new.values()]
        now = self._clock.now()
        for key, record in self._changed.items():
            if key in self._removed:
                continue
            expected = self._versions[key]
            record.version = expected + 1
            record.updated_at = now
            changes.append(Put(record, expected))
        changes.extend(Delete(r, self._versions[key]) for key, r in self._removed.items())
        # The store refuses a write over its limits (StoreLimits) before writing anything:
        # more changes than it can make atomically is a TooManyChangesError (HTTP 400).
        if changes:
            self._store.write(self._tenant, changes)
