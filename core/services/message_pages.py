"""Cursor pages over ordered child records (messages), with ids as cursors."""

from __future__ import annotations

from typing import TypeVar

from core.paging import PageRequest, cursor_window, unknown_cursor
from core.ports import Store
from core.records import ChildRecord

C = TypeVar("C", bound=ChildRecord)


def page_of_children(
    store: Store,
    tenant: str,
    kind: type[C],
    parent_id: str,
    page: PageRequest,
    first_seq: int = 1,
) -> list[C]:
    """One page in the requested order; cursors are ids of records of this parent. Records
    before `first_seq` (a reset transcript) are not part of the list."""
    window = cursor_window(
        page,
        lambda cursor, name: _seq_of(store, tenant, kind, parent_id, cursor, name, first_seq),
    ).within(first_seq - 1, None)
    if window.is_empty:
        return []
    records = store.children(
        tenant,
        kind,
        parent_id,
        limit=window.limit,
        after_seq=window.low,
        before_seq=window.high,
        newest_first=window.descending,
    )
    return window.take(records)


def _seq_of(
    store: Store,
    tenant: str,
    kind: type[C],
    parent_id: str,
    cursor: str,
    name: str,
    first_seq: int,
) -> int:
    record = store.find_child(tenant, kind, cursor)
    if record is None or record.parent_id != parent_id or record.seq < first_seq:
        raise unknown_cursor(name, cursor)
    return record.seq
