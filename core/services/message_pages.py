"""Cursor pages over ordered child records (messages), with ids as cursors."""

from __future__ import annotations

from typing import TypeVar

from core.paging import PageRequest, unknown_cursor
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
    after = _seq_of(store, tenant, kind, parent_id, page.after, "after", first_seq)
    before = _seq_of(store, tenant, kind, parent_id, page.before, "before", first_seq)
    # Translate "after/before in the requested order" into seq bounds.
    low, high = (after, before) if page.order == "asc" else (before, after)
    low = max(low or 0, first_seq - 1) or None
    read_backwards = (page.order == "desc") != page.walks_backwards
    records = store.children(
        tenant,
        kind,
        parent_id,
        limit=page.limit,
        after_seq=low,
        before_seq=high,
        newest_first=read_backwards,
    )
    if page.walks_backwards:
        records.reverse()
    return records


def _seq_of(
    store: Store,
    tenant: str,
    kind: type[C],
    parent_id: str,
    cursor: str | None,
    name: str,
    first_seq: int,
) -> int | None:
    if cursor is None:
        return None
    record = store.find_child(tenant, kind, cursor)
    if record is None or record.parent_id != parent_id or record.seq < first_seq:
        raise unknown_cursor(name, cursor)
    return record.seq
