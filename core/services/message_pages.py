"""Pages of rendered messages, cut part by part.

One stored message can render as several Letta messages (core.message_parts), so a page
counts the parts, not the records: it never holds more than `limit`, and a cursor names one
part, so a page may end inside a record and the next begins with that record's next part.
Each part sits at (its record's seq, its rank among the record's parts); cursors are read
in the requested order, as core.paging defines them for every list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from core.message_parts import LAST_RANK, MAIN, owners, rank
from core.paging import CursorWindow, PageRequest, cursor_window, unknown_cursor
from core.ports import Store
from core.records import ChildRecord, MessageRecord
from core.runtime.rendering import RenderOptions, render_parts, slots, wanted
from core.schemas.messages import LettaMessage

M = TypeVar("M", bound=MessageRecord)
C = TypeVar("C", bound=ChildRecord)

Position = tuple[int, int]
"""Where a rendered message sits in its list: its record's seq, then its rank."""

Find = Callable[[str], MessageRecord | None]
"""A record of the list by its id; None when the list holds none of that id."""

Read = Callable[[int | None, int | None, bool], Iterable[MessageRecord]]
"""`read(after_seq, before_seq, newest_first)`: the list's records strictly between the
seqs (None: open), in that direction, read lazily."""


def message_page(
    page: PageRequest,
    options: RenderOptions,
    find: Find,
    read: Read,
    seq_bounds: tuple[int | None, int | None] = (None, None),
) -> list[LettaMessage]:
    """One page of the list's rendered messages in the requested order; `seq_bounds`
    (exclusive) leave records out of the list (a reset transcript, a run's range)."""
    low_seq, high_seq = seq_bounds
    window = cursor_window(page, lambda cursor, name: _position(find, cursor, name)).within(
        None if low_seq is None else (low_seq, LAST_RANK),
        None if high_seq is None else (high_seq, -1),
    )
    if window.is_empty:
        return []
    records = read(_after_seq(window.low), _before_seq(window.high), window.descending)
    parts = _positioned(records, options, newest_first=window.descending)
    taken = window.take(parts, lambda part: _inside(window, part[0]) and wanted(part[1], options))
    return [message for _, message in taken]


@dataclass(frozen=True)
class Children(Generic[C]):
    """The children of one parent as a message list: found by id, read in chunks."""

    store: Store
    tenant: str
    kind: type[C]
    parent_id: str
    chunk: int
    first_seq: int = 1
    """Children before it are not part of the list (a reset transcript)."""

    def find(self, record_id: str) -> C | None:
        record = self.store.find_child(self.tenant, self.kind, record_id)
        if record is None or record.parent_id != self.parent_id or record.seq < self.first_seq:
            return None
        return record

    def read(
        self, after_seq: int | None, before_seq: int | None, newest_first: bool
    ) -> Iterator[C]:
        """The children strictly between the seqs, `chunk` at a time."""
        while before_seq is None or after_seq is None or after_seq + 1 < before_seq:
            batch = self.store.children(
                self.tenant,
                self.kind,
                self.parent_id,
                limit=self.chunk,
                after_seq=after_seq,
                before_seq=before_seq,
                newest_first=newest_first,
            )
            yield from batch
            if len(batch) < self.chunk:
                return
            if newest_first:
                before_seq = batch[-1].seq
            else:
                after_seq = batch[-1].seq


def page_of_messages(
    store: Store,
    tenant: str,
    kind: type[M],
    parent_id: str,
    page: PageRequest,
    options: RenderOptions,
    first_seq: int = 1,
) -> list[LettaMessage]:
    """A page of the messages stored as children of `parent_id` (an agent's history, a
    group's transcript, a run's log); records before `first_seq` are not part of it."""
    # A page of `limit` parts usually needs `limit` records, plus the cursor's own.
    children = Children(store, tenant, kind, parent_id, page.limit + 1, first_seq)
    return message_page(page, options, children.find, children.read, (first_seq - 1, None))


def _position(find: Find, cursor: str, name: str) -> Position:
    """The position of the part a cursor names. A record's own id names its main part
    even when it renders none (so ids handed out before parts had ids still work)."""
    for record_id, slot in owners(cursor):
        record = find(record_id)
        if record is not None and (slot == MAIN or slot in slots(record)):
            return record.seq, rank(slot)
    raise unknown_cursor(name, cursor)


def _positioned(
    records: Iterable[MessageRecord], options: RenderOptions, *, newest_first: bool
) -> Iterator[tuple[Position, LettaMessage]]:
    """Every part of the records in reading order, with its position."""
    for record in records:
        parts = render_parts(record, options)
        for part in reversed(parts) if newest_first else parts:
            yield (record.seq, rank(part.slot)), part.message


def _inside(window: CursorWindow[Position], position: Position) -> bool:
    """True when the position lies strictly between the window's bounds (a record read
    because a cursor names one of its parts has parts on both sides of it)."""
    return (window.low is None or window.low < position) and (
        window.high is None or position < window.high
    )


def _after_seq(low: Position | None) -> int | None:
    """The seq to read after: the low cursor's record itself holds later parts, unless the
    bound lies past all of them."""
    if low is None:
        return None
    seq, part_rank = low
    return seq if part_rank >= LAST_RANK else seq - 1


def _before_seq(high: Position | None) -> int | None:
    if high is None:
        return None
    seq, part_rank = high
    return seq if part_rank < 0 else seq + 1
