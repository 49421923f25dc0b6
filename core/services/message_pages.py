"""Cursor pages over ordered child records (messages), with ids as cursors."""

from __future__ import annotations

from typing import TypeVar

from core.paging import PageRequest, unknown_cursor
from core.ports import Store
from core.records import ChildRecord

C = TypeVar("C", bound=ChildRecord)


def page_of_children(
    store: Store, tenant: str, kind: type[C], parent_id: str, page: PageRequest
) -> list[C]:
    """One page in the requested order; cursors are ids of records of this parent."""
    after = _seq_of(store, tenant, kind, parent_id, page.after, "after")
    before = _seq_of(store, tenant, kind, parent_id, page.before, "before")
    # Translate "after/before in the requested order" into seq bounds.
    low, high = (after, before) if page.order == "asc" else (before, after)
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
    store: Store, tenant: str, kind: type[C], parent_id: str, cursor: str | None, name: str
) -> int | None:
    if cursor is None:
        return None
    record = store.find_child(tenant, kind, cursor)
    if record is None or record.parent_id != parent_id:
        raise unknown_cursor(name, cursor)
    return record.seq
