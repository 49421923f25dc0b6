"""What SQLiteStore adds beyond the Store contract: threads, reopening, expiry, indexes."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core import ids
from core.errors import ConcurrentModificationError
from core.ports import Put
from core.records import BlockRecord
from infra.sqlite_store import SQLiteStore

T = "tenant"


def _block(label: str = "l", **fields: object) -> BlockRecord:
    return BlockRecord(
        id=ids.new_id(ids.BLOCK), created_at=datetime.now(UTC), label=label, value="v", **fields
    )


def test_concurrent_updates_of_one_record_from_threads_let_exactly_one_win(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    original = _block()
    store.write(T, [Put(original, None)])
    start = threading.Barrier(8)

    def bump(n: int) -> bool:
        start.wait()
        try:
            store.write(T, [Put(original.model_copy(update={"version": 2, "value": str(n)}), 1)])
        except ConcurrentModificationError:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(bump, range(8)))
    assert won.count(True) == 1
    stored = store.get(T, BlockRecord, original.id)
    assert stored is not None and stored.version == 2
    assert stored.value == str(won.index(True))


def test_creates_from_many_threads_all_land(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    blocks = [_block(str(i)) for i in range(40)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda b: store.write(T, [Put(b, None)]), blocks))
    assert store.count(T, BlockRecord) == 40
    assert store.get_many(T, BlockRecord, [b.id for b in blocks]).keys() == {b.id for b in blocks}


def test_reopening_keeps_records_and_drops_expired_ones(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "s.sqlite3"
    store = SQLiteStore(path)
    kept = _block("kept")
    gone = _block("gone", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    later = _block("later", expires_at=datetime.now(UTC) + timedelta(days=1))
    for record in (kept, gone, later):
        store.write(T, [Put(record, None)])
    store.close()

    reopened = SQLiteStore(path)
    assert reopened.get(T, BlockRecord, kept.id) == kept
    assert reopened.get(T, BlockRecord, later.id) == later
    assert reopened.get(T, BlockRecord, gone.id) is None


def test_reads_by_key_use_an_index_not_a_scan(tmp_path: Path) -> None:
    """The cost of a send must not grow with what is stored: every lookup a send makes
    is an index search (SQLite's plan says SEARCH, never SCAN)."""
    path = tmp_path / "s.sqlite3"
    SQLiteStore(path)
    db = sqlite3.connect(path)
    queries = [
        ("SELECT doc FROM records WHERE tenant=? AND kind=? AND id=?", 3),
        ("SELECT doc FROM records WHERE tenant=? AND kind=? ORDER BY sort_key DESC LIMIT 5", 2),
        (
            "SELECT doc FROM children WHERE tenant=? AND parent_kind=? AND parent_id=? "
            "AND kind=? AND seq>? ORDER BY seq DESC LIMIT 5",
            5,
        ),
        ("SELECT doc FROM children WHERE tenant=? AND kind=? AND id=?", 3),
    ]
    for sql, params in queries:
        plan = " ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", ("x",) * params))
        assert "SEARCH" in plan and "SCAN" not in plan and "TEMP B-TREE" not in plan, (sql, plan)
