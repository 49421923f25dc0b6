"""Declarative filters for `Store.list`, so a store filters where the data lives.

A list route narrows by a few fields. Written as callables, those filters forced every
store to read every record and test it in Python; as data, DynamoDB applies them as a
FilterExpression and the in-memory store applies them in Python, with one meaning.

That meaning is fixed here. Each record kind declares in `FILTERABLE` which fields can be
filtered and by which filters; `projection` turns a record into the values a store keeps
beside it for those filters (a lower-cased copy of a searchable text, a list of tags...),
and a filter is a test of one of those kept values (`FieldFilter.test`). A store keeps
exactly the projection when it writes a record and filters on nothing else, so every
store answers the same filters the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from core.records import Record

Kept = str | bool | list[str]
"""A value a store keeps for filtering: a string, a flag, or a list of strings."""

ATTRIBUTE_PREFIX = "f_"
LOWERED_SUFFIX = "_lc"


def attribute_name(field: str, *, lowered: bool = False) -> str:
    """The name a kept value is stored under: `f_<field>`, or `f_<field>_lc` for the
    lower-cased copy text search reads."""
    return f"{ATTRIBUTE_PREFIX}{field}{LOWERED_SUFFIX if lowered else ''}"


@dataclass(frozen=True)
class FieldFilter:
    """One condition on one filterable field of a record."""

    field: str

    KEEPS: ClassVar[type] = str
    """The type of value the filter reads; a field value of another type is not kept."""
    LOWERED: ClassVar[bool] = False
    """True when the filter reads the lower-cased copy of a text."""

    @property
    def attribute(self) -> str:
        """Where the value this filter reads is kept."""
        return attribute_name(self.field, lowered=self.LOWERED)

    def test(self, kept: Kept | None) -> bool:
        """Whether a record whose kept value is `kept` (None: nothing kept) passes."""
        raise NotImplementedError


@dataclass(frozen=True)
class Equals(FieldFilter):
    """The text field is exactly `value` (case-sensitive)."""

    value: str

    def test(self, kept: Kept | None) -> bool:
        return isinstance(kept, str) and kept == self.value


@dataclass(frozen=True)
class OneOf(FieldFilter):
    """The text field is one of `values` (case-sensitive)."""

    values: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError(f"OneOf on {self.field!r} needs values.")

    def test(self, kept: Kept | None) -> bool:
        return isinstance(kept, str) and kept in self.values


@dataclass(frozen=True)
class ContainsText(FieldFilter):
    """The text field contains `needle`, ignoring case (an empty needle: it has a text)."""

    needle: str

    LOWERED: ClassVar[bool] = True

    def test(self, kept: Kept | None) -> bool:
        return isinstance(kept, str) and self.needle.lower() in kept


@dataclass(frozen=True)
class _ListFilter(FieldFilter):
    values: tuple[str, ...]

    KEEPS: ClassVar[type] = list

    def __post_init__(self) -> None:
        if not self.values:
            # An empty any/all has no agreed meaning (and no DynamoDB expression): the
            # caller leaves the filter out instead.
            raise ValueError(f"{type(self).__name__} on {self.field!r} needs values.")


@dataclass(frozen=True)
class HasAny(_ListFilter):
    """The list field holds at least one of `values`."""

    def test(self, kept: Kept | None) -> bool:
        return isinstance(kept, list) and any(v in kept for v in self.values)


@dataclass(frozen=True)
class HasAll(_ListFilter):
    """The list field holds every one of `values`."""

    def test(self, kept: Kept | None) -> bool:
        return isinstance(kept, list) and all(v in kept for v in self.values)


@dataclass(frozen=True)
class IsTrue(FieldFilter):
    """The flag field is true."""

    KEEPS: ClassVar[type] = bool

    def test(self, kept: Kept | None) -> bool:
        return kept is True


@dataclass(frozen=True)
class IsFalse(FieldFilter):
    """The flag field is false."""

    KEEPS: ClassVar[type] = bool

    def test(self, kept: Kept | None) -> bool:
        return kept is False


Filter = Equals | OneOf | ContainsText | HasAny | HasAll | IsTrue | IsFalse
"""Every filter a store must apply."""

Filterable = Mapping[str, tuple[type[FieldFilter], ...]]
"""What a record kind declares: field name -> the filters that may test it."""


def projection(record: Record) -> dict[str, Kept]:
    """The values a store keeps beside `record` so it can filter on them, by attribute
    name. A field whose value is missing or of another type than a filter reads is not
    kept, so that filter never matches the record; empty lists are not kept either."""
    kept: dict[str, Kept] = {}
    for field, kinds in record.FILTERABLE.items():
        value = record.filterable_value(field)
        for kind in kinds:
            found = _keep(value, kind.KEEPS, kind.LOWERED)
            if found is not None:
                kept[attribute_name(field, lowered=kind.LOWERED)] = found
    return kept


def check_filters(kind: type[Record], filters: Sequence[FieldFilter]) -> None:
    """Raise ValueError for a filter the record kind does not declare: a store could not
    apply it, since it keeps nothing for it."""
    for condition in filters:
        allowed = kind.FILTERABLE.get(condition.field, ())
        if type(condition) not in allowed:
            raise ValueError(
                f"{type(condition).__name__} on {kind.KIND}.{condition.field} is not "
                "declared in its FILTERABLE."
            )


def matches(record: Record, filters: Sequence[FieldFilter]) -> bool:
    """Whether `record` passes every filter, judged on its projection as a store does."""
    if not filters:
        return True
    kept = projection(record)
    return all(f.test(kept.get(f.attribute)) for f in filters)


def _keep(value: object, keeps: type, lowered: bool) -> Kept | None:
    if keeps is str:
        if not isinstance(value, str):
            return None
        return value.lower() if lowered else value
    if keeps is bool:
        return value if isinstance(value, bool) else None
    if isinstance(value, list | tuple):
        items = [item for item in value if isinstance(item, str)]
        return items or None
    return None
