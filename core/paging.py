"""Cursor pagination as Letta's list routes define it, shared by every store.

`after`/`before` are ids of items in the list and are read in the requested order: in
`order=desc`, "after X" means the items listed after X, i.e. older ones. With only `before`,
the page is the `limit` items nearest to the cursor, so paging backwards works.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from core.errors import BadRequestError, quote

T = TypeVar("T")

Order = Literal["asc", "desc"]
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class PageRequest:
    """One list call's cursor arguments, already validated."""

    limit: int
    order: Order = "asc"
    before: str | None = None
    after: str | None = None

    @property
    def walks_backwards(self) -> bool:
        """True when the page is read from the `before` cursor towards the start."""
        return self.before is not None and self.after is None


K = TypeVar("K", int, str, tuple[int, int])
"""A position in a list: an index, a sort key, a seq, a message part's (seq, rank)."""


@dataclass(frozen=True)
class CursorWindow(Generic[K]):
    """A page request as a store reads it: keys strictly between `low` and `high` (in the
    list's ascending order; None leaves that side open), read from the `high` end when
    `descending`, at most `limit` kept, handed back reversed when `reverse` (a page that
    walks backwards from a `before` cursor is read nearest-first, then shown in order).

    Every list of the service (records, messages, a run's messages, a list in memory) is
    read through one of these, so they all answer the same cursors the same way.
    """

    low: K | None
    high: K | None
    descending: bool
    limit: int
    reverse: bool

    @property
    def is_empty(self) -> bool:
        """True when no key can lie strictly between the bounds."""
        return self.limit <= 0 or (
            self.low is not None and self.high is not None and self.low >= self.high
        )

    def within(self, low: K | None, high: K | None) -> CursorWindow[K]:
        """This window narrowed to keys strictly between `low` and `high` as well (the
        part of a list a page may show: a reset transcript, one run's messages)."""
        if low is not None and self.low is not None:
            low = max(low, self.low)
        elif low is None:
            low = self.low
        if high is not None and self.high is not None:
            high = min(high, self.high)
        elif high is None:
            high = self.high
        return CursorWindow(low, high, self.descending, self.limit, self.reverse)

    def take(self, items: Iterable[T], where: Callable[[T], bool] | None = None) -> list[T]:
        """The page out of `items`, which are read in this window's bounds and direction
        (lazily: reading stops at `limit` kept): those `where` keeps, in the order asked."""
        taken: list[T] = []
        if self.limit <= 0:
            return taken
        for item in items:
            if where is None or where(item):
                taken.append(item)
                if len(taken) >= self.limit:
                    break
        if self.reverse:
            taken.reverse()
        return taken


def cursor_window(page: PageRequest, key_of: Callable[[str, str], K]) -> CursorWindow[K]:
    """Turn a page request into the window to read.

    `key_of(cursor, name)` gives the position of the item a cursor names (`name` is
    "after" or "before"), raising `unknown_cursor(name, cursor)` when it names none.
    Cursors are read in the requested order: in `desc`, "after X" is below X.
    """
    after = key_of(page.after, "after") if page.after is not None else None
    before = key_of(page.before, "before") if page.before is not None else None
    low, high = (after, before) if page.order == "asc" else (before, after)
    return CursorWindow(
        low=low,
        high=high,
        descending=(page.order == "desc") != page.walks_backwards,
        limit=page.limit,
        reverse=page.walks_backwards,
    )


def paginate(
    items: Sequence[T],
    request: PageRequest,
    id_of: Callable[[T], str],
    where: Callable[[T], bool] | None = None,
) -> list[T]:
    """Cut one page out of `items` (sorted oldest first) keeping those `where` accepts.

    Cursors are positions in the unfiltered list, so a cursor item that a filter hides
    still works. Used wherever the candidates are already in memory.
    """
    positions = {id_of(item): index for index, item in enumerate(items)}
    window = cursor_window(request, lambda cursor, name: _position(positions, cursor, name))
    low = -1 if window.low is None else window.low
    high = len(items) if window.high is None else window.high
    indices = range(high - 1, low, -1) if window.descending else range(low + 1, high)
    return window.take((items[i] for i in indices), where)


def unknown_cursor(name: str, value: str) -> BadRequestError:
    """The error for a cursor that names no item of the list (deleted, or from another list)."""
    return BadRequestError(f"Cursor {name}={quote(value)} is not an item of this list.")


def _position(positions: dict[str, int], cursor: str, name: str) -> int:
    if cursor not in positions:
        raise unknown_cursor(name, cursor)
    return positions[cursor]
