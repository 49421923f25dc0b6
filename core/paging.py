"""Cursor pagination as Letta's list routes define it, shared by every store.

`after`/`before` are ids of items in the list and are read in the requested order: in
`order=desc`, "after X" means the items listed after X, i.e. older ones. With only `before`,
the page is the `limit` items nearest to the cursor, so paging backwards works.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from core.errors import BadRequestError

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


def paginate(
    items: Sequence[T],
    request: PageRequest,
    id_of: Callable[[T], str],
    where: Callable[[T], bool] | None = None,
) -> list[T]:
    """Cut one page out of `items` (sorted oldest first) keeping those `where` accepts.

    Cursors are positions in the unfiltered list, so a cursor item that a filter hides
    still works. Used wherever the candidates are already in memory, so every store
    answers the same cursors the same way.
    """
    ordered = list(items) if request.order == "asc" else list(reversed(items))
    positions = {id_of(item): index for index, item in enumerate(ordered)}
    start, stop = 0, len(ordered)
    if request.after is not None:
        start = _position(positions, request.after, "after") + 1
    if request.before is not None:
        stop = _position(positions, request.before, "before")
    window = [item for item in ordered[start:stop] if where is None or where(item)]
    if request.walks_backwards:
        return window[-request.limit :] if request.limit else []
    return window[: request.limit]


def unknown_cursor(name: str, value: str) -> BadRequestError:
    """The error for a cursor that names no item of the list (deleted, or from another list)."""
    return BadRequestError(f"Cursor {name}={value!r} is not an item of this list.")


def _position(positions: dict[str, int], cursor: str, name: str) -> int:
    if cursor not in positions:
        raise unknown_cursor(name, cursor)
    return positions[cursor]
