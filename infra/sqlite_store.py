"""The Store port on one SQLite file (the standard library's sqlite3): `make run`'s default.

Why SQLite and not an embedded DynamoDB: moto copies its whole table inside every
TransactWriteItems and keeps the copies, so a local server slowed down and grew by
gigabytes as data accumulated, and lost everything on restart. A file keeps state across
restarts, and with the keys below as indexes a send costs the same at 100 or 100,000
stored items. The DynamoDB adapter stays the cloud's path; both pass tests/contract/.

Layout, mirroring infra.dynamodb_store's keys:
  records   (tenant, kind, id) primary key; (tenant, kind, sort_key) indexes the listing,
            sort_key = creation time at fixed width then id, so lists page by it
  children  (tenant, parent_kind, parent_id, kind, seq) primary key, so the newest N are
            one index range; (tenant, kind, id) finds a child by its id alone
Each row holds the record's JSON (`doc`), its `version` for optimistic writes and the
values its kind declares filterable (core.filters.projection) as JSON in `kept`; list
filters are judged on those with core.filters' own tests, so they mean what they mean
everywhere, and a row is parsed into a record only once it passes.

Threads: every thread gets its own connection (the server runs sends and supervisor
workers concurrently); WAL lets readers run beside a writer, and a write takes the
database's write lock first (BEGIN IMMEDIATE), checks every condition, then applies all
changes or none.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from core.errors import ConcurrentModificationError
from core.filters import Filter, check_filters, projection
from core.paging import CursorWindow, PageRequest, cursor_window, unknown_cursor
from core.ports import Change, Delete, Put, StoreLimits, check_write
from core.records import ChildRecord, Record

R = TypeVar("R", bound=Record)
C = TypeVar("C", bound=ChildRecord)

SQLITE_LIMITS = StoreLimits(
    max_changes_per_write=100, max_record_bytes=400_000, max_write_bytes=4_000_000
)
"""DynamoDB's limits (infra.dynamodb_store.DYNAMODB_LIMITS), kept here too: a write that
works under `make run` must work once deployed."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    sort_key TEXT NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL,
    kept TEXT NOT NULL,
    expires_at REAL,
    PRIMARY KEY (tenant, kind, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_listing ON records (tenant, kind, sort_key);
CREATE TABLE IF NOT EXISTS children (
    tenant TEXT NOT NULL,
    parent_kind TEXT NOT NULL,
    parent_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL,
    expires_at REAL,
    PRIMARY KEY (tenant, parent_kind, parent_id, kind, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS children_by_id ON children (tenant, kind, id);
CREATE INDEX IF NOT EXISTS records_expiry ON records (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS children_expiry ON children (expires_at) WHERE expires_at IS NOT NULL;
"""

_LIST_BATCH = 100
"""Rows fetched at a time while a filtered list looks for its page."""


def listing_sort_key(record: Record) -> str:
    """Creation time at fixed width, then the id: sorts like (created_at, id), as the
    DynamoDB adapter's listing index does."""
    return f"{record.created_at.strftime('%Y-%m-%dT%H:%M:%S.%f')}#{record.id}"


class SQLiteStore:
    """Implements core.ports.Store on a SQLite database file."""

    limits = SQLITE_LIMITS
    # Annotations in this class body say builtins.list: a bare `list` after `def list`
    # would name the method, not the type.

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0) -> None:
        """Open (creating it and its folder if needed) the database at `path`; records
        whose `expires_at` has passed are removed now (DynamoDB's TTL does it in the
        cloud), so a long-lived local file does not keep finished idempotency keys."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        connection = self._connection()
        connection.executescript(_SCHEMA)
        now = datetime.now(UTC).timestamp()
        with self._writing() as db:
            db.execute("DELETE FROM records WHERE expires_at < ?", (now,))
            db.execute("DELETE FROM children WHERE expires_at < ?", (now,))

    # -- reads ---------------------------------------------------------------------------

    def get(self, tenant: str, kind: type[R], record_id: str) -> R | None:
        row = (
            self._connection()
            .execute(
                "SELECT doc FROM records WHERE tenant = ? AND kind = ? AND id = ?",
                (tenant, kind.KIND, record_id),
            )
            .fetchone()
        )
        return kind.model_validate_json(row[0]) if row else None

    def get_many(self, tenant: str, kind: type[R], record_ids: Sequence[str]) -> dict[str, R]:
        wanted = list(dict.fromkeys(record_ids))
        found: dict[str, R] = {}
        db = self._connection()
        for start in range(0, len(wanted), 500):  # SQLite caps bound parameters
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                f"SELECT doc FROM records WHERE tenant = ? AND kind = ? AND id IN ({marks})",
                (tenant, kind.KIND, *chunk),
            )
            for (doc,) in rows:
                record = kind.model_validate_json(doc)
                found[record.id] = record
        return found

    def list(
        self,
        tenant: str,
        kind: type[R],
        page: PageRequest,
        filters: Sequence[Filter] = (),
    ) -> builtins.list[R]:
        check_filters(kind, filters)
        window = cursor_window(
            page, lambda cursor, name: self._sort_key(tenant, kind, cursor, name)
        )
        if window.is_empty:
            return []
        rows = self._listing(tenant, kind.KIND, window, batch=_LIST_BATCH if filters else None)
        return window.take(
            kind.model_validate_json(doc)
            for doc, kept in rows
            if not filters or _passes(json.loads(kept), filters)
        )

    def count(self, tenant: str, kind: type[Record]) -> int:
        row = (
            self._connection()
            .execute(
                "SELECT COUNT(*) FROM records WHERE tenant = ? AND kind = ?", (tenant, kind.KIND)
            )
            .fetchone()
        )
        return int(row[0])

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
        if limit <= 0:
            return []
        sql = (
            "SELECT doc FROM children WHERE tenant = ? AND parent_kind = ? AND parent_id = ?"
            " AND kind = ?"
        )
        args: list[Any] = [tenant, kind.PARENT_KIND, parent_id, kind.KIND]
        if after_seq is not None:
            sql += " AND seq > ?"
            args.append(after_seq)
        if before_seq is not None:
            sql += " AND seq < ?"
            args.append(before_seq)
        sql += f" ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT ?"
        args.append(limit)
        return [kind.model_validate_json(doc) for (doc,) in self._connection().execute(sql, args)]

    def get_child(self, tenant: str, kind: type[C], parent_id: str, seq: int) -> C | None:
        row = (
            self._connection()
            .execute(
                "SELECT doc FROM children WHERE tenant = ? AND parent_kind = ? AND parent_id = ?"
                " AND kind = ? AND seq = ?",
                (tenant, kind.PARENT_KIND, parent_id, kind.KIND, seq),
            )
            .fetchone()
        )
        return kind.model_validate_json(row[0]) if row else None

    def find_child(self, tenant: str, kind: type[C], child_id: str) -> C | None:
        row = (
            self._connection()
            .execute(
                "SELECT doc FROM children WHERE tenant = ? AND kind = ? AND id = ? LIMIT 1",
                (tenant, kind.KIND, child_id),
            )
            .fetchone()
        )
        return kind.model_validate_json(row[0]) if row else None

    # -- writes --------------------------------------------------------------------------

    def write(self, tenant: str, changes: Sequence[Change]) -> None:
        check_write(changes, self.limits)
        if not changes:
            return
        with self._writing() as db:
            failed = [c for c in changes if not self._holds(db, tenant, c)]
            if failed:
                raise ConcurrentModificationError(
                    "A record changed while this request was writing it.",
                    tuple(f"{c.record.KIND} {c.record.id}" for c in failed),
                )
            for change in changes:
                self._apply(db, tenant, change)

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    # -- helpers -------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            # Autocommit (isolation_level=None): reads see the latest commit, and writes
            # open their own transaction in `_writing`.
            connection = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One transaction holding the write lock from its first statement, so the
        conditions checked are still true when the changes are applied."""
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _sort_key(self, tenant: str, kind: type[Record], cursor: str, name: str) -> str:
        row = (
            self._connection()
            .execute(
                "SELECT sort_key FROM records WHERE tenant = ? AND kind = ? AND id = ?",
                (tenant, kind.KIND, cursor),
            )
            .fetchone()
        )
        if row is None:
            raise unknown_cursor(name, cursor)
        sort_key: str = row[0]
        return sort_key

    def _listing(
        self, tenant: str, kind: str, window: CursorWindow[str], *, batch: int | None
    ) -> Iterator[tuple[str, str]]:
        """(doc, kept) of one kind's records strictly inside the window, in its direction.
        Unfiltered, exactly the page is read; filtered, rows come `batch` at a time until
        the caller has its page (reading stops there)."""
        sql = "SELECT doc, kept FROM records WHERE tenant = ? AND kind = ?"
        args: list[Any] = [tenant, kind]
        if window.low is not None:
            sql += " AND sort_key > ?"
            args.append(window.low)
        if window.high is not None:
            sql += " AND sort_key < ?"
            args.append(window.high)
        sql += f" ORDER BY sort_key {'DESC' if window.descending else 'ASC'}"
        if batch is None:
            sql += " LIMIT ?"
            args.append(window.limit)
        cursor = self._connection().execute(sql, args)
        try:
            while rows := cursor.fetchmany(batch or window.limit):
                yield from rows
        finally:
            cursor.close()

    def _holds(self, db: sqlite3.Connection, tenant: str, change: Change) -> bool:
        """Whether the change's condition holds: absent for a create, else the version."""
        record = change.record
        if isinstance(record, ChildRecord):
            row = db.execute(
                "SELECT version FROM children WHERE tenant = ? AND parent_kind = ?"
                " AND parent_id = ? AND kind = ? AND seq = ?",
                (tenant, record.PARENT_KIND, record.parent_id, record.KIND, record.seq),
            ).fetchone()
        else:
            row = db.execute(
                "SELECT version FROM records WHERE tenant = ? AND kind = ? AND id = ?",
                (tenant, record.KIND, record.id),
            ).fetchone()
        if isinstance(change, Put) and change.expected_version is None:
            return row is None
        return row is not None and row[0] == change.expected_version

    def _apply(self, db: sqlite3.Connection, tenant: str, change: Change) -> None:
        record = change.record
        if isinstance(change, Delete):
            if isinstance(record, ChildRecord):
                db.execute(
                    "DELETE FROM children WHERE tenant = ? AND parent_kind = ?"
                    " AND parent_id = ? AND kind = ? AND seq = ?",
                    (tenant, record.PARENT_KIND, record.parent_id, record.KIND, record.seq),
                )
            else:
                db.execute(
                    "DELETE FROM records WHERE tenant = ? AND kind = ? AND id = ?",
                    (tenant, record.KIND, record.id),
                )
            return
        doc = record.model_dump_json()
        expires = record.expires_at.timestamp() if record.expires_at is not None else None
        if isinstance(record, ChildRecord):
            db.execute(
                "INSERT OR REPLACE INTO children (tenant, parent_kind, parent_id, kind, seq,"
                " id, version, doc, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    tenant,
                    record.PARENT_KIND,
                    record.parent_id,
                    record.KIND,
                    record.seq,
                    record.id,
                    record.version,
                    doc,
                    expires,
                ),
            )
        else:
            db.execute(
                "INSERT OR REPLACE INTO records (tenant, kind, id, sort_key, version, doc,"
                " kept, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    tenant,
                    record.KIND,
                    record.id,
                    listing_sort_key(record),
                    record.version,
                    doc,
                    json.dumps(projection(record)),
                    expires,
                ),
            )


def _passes(kept: dict[str, Any], filters: Sequence[Filter]) -> bool:
    """Whether a row's kept values pass every filter, by core.filters' own tests."""
    return all(f.test(kept.get(f.attribute)) for f in filters)
