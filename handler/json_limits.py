"""Bounds every JSON body must keep before any route sees it, and the check of them.

Why here and not in the models: a body nested 200 deep, a lone surrogate or a NaN passes
pydantic's `dict[str, Any]` fields and breaks later (a record that cannot be read back, a
500 while encoding, a 422 that cannot be serialized), and a body with millions of items
costs seconds of parsing before any model rejects it. Each problem names the field (a
FastAPI-style `loc`) and the limit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_BODY_BYTES = 10 * 1024 * 1024
"""API Gateway's payload limit (10 MB): nothing larger ever reaches the function there."""
MAX_SEPARATORS = 200_000
"""Commas a body may hold, counted before parsing: parsing is one uninterruptible C call,
and this keeps it to a few tens of milliseconds whatever the body (strings included, so
the count only ever errs on the safe side)."""
MAX_DEPTH = 32
"""Nesting of objects and arrays, as DynamoDB's own limit for documents."""
MAX_ITEMS = 1_000
"""Items of one array, or keys of one object."""
MAX_VALUES = 100_000
"""JSON values in the whole body."""
MAX_STRING_CHARS = 300_000
"""Characters of one string: no stored message or record field can hold more."""


@dataclass(frozen=True)
class BodyProblem:
    """Why a body is refused: 413 for sizes, 422 for values no field may hold."""

    status: int
    loc: tuple[str | int, ...]
    message: str
    kind: str


def check_json(body: bytes) -> BodyProblem | None:
    """The first bound `body` breaks, or None; a body that is not JSON is a 422 too."""
    separators = body.count(b",")
    if separators > MAX_SEPARATORS:
        return BodyProblem(
            413,
            ("body",),
            f"Body has {separators} items or more; at most {MAX_SEPARATORS} are accepted.",
            "too_many_items",
        )
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except _NonFiniteNumber as exc:
        return BodyProblem(
            422,
            ("body",),
            f"{exc.args[0]} is not a valid JSON number; numbers must be finite.",
            "finite_number",
        )
    except RecursionError:
        return _too_deep(("body",))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        position = exc.pos if isinstance(exc, json.JSONDecodeError) else exc.start
        return BodyProblem(422, ("body", position), "JSON decode error", "json_invalid")
    return _Walk().check(value, ("body",), 0)


class _NonFiniteNumber(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NonFiniteNumber(name)


def _too_deep(loc: tuple[str | int, ...]) -> BodyProblem:
    return BodyProblem(
        422, loc, f"Nested more than {MAX_DEPTH} levels deep; at most {MAX_DEPTH}.", "too_deep"
    )


class _Walk:
    """One pass over the parsed body, counting values as it goes."""

    def __init__(self) -> None:
        self.values = 0

    def check(self, value: Any, loc: tuple[str | int, ...], depth: int) -> BodyProblem | None:
        self.values += 1
        if self.values > MAX_VALUES:
            return BodyProblem(
                413, ("body",), f"Body holds more than {MAX_VALUES} values.", "too_many_items"
            )
        if isinstance(value, str):
            return _check_string(value, loc)
        if isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                return _too_deep(loc)
            if len(value) > MAX_ITEMS:
                return BodyProblem(
                    413,
                    loc,
                    f"Has {len(value)} items; at most {MAX_ITEMS} are accepted.",
                    "too_many_items",
                )
            pairs = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in pairs:
                if isinstance(key, str) and (problem := _check_string(key, loc)):
                    return problem
                if problem := self.check(item, (*loc, key), depth + 1):
                    return problem
        return None


def _check_string(value: str, loc: tuple[str | int, ...]) -> BodyProblem | None:
    if len(value) > MAX_STRING_CHARS:
        return BodyProblem(
            413,
            loc,
            f"String of {len(value)} characters; at most {MAX_STRING_CHARS}.",
            "string_too_long",
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return BodyProblem(
            422,
            loc,
            f"Lone surrogate at character {exc.start}: text must be valid Unicode.",
            "unicode_surrogate",
        )
    return None
