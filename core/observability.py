"""What every log line should say about where it comes from: the ids a request has learnt
so far (tenant, group, agent, run), kept in a context variable.

Core binds ids as it learns them (`with bind(group_id=...)`); the edge copies `fields()`
onto every log record (handler/observability.py). Pure stdlib: core knows no log library.
A thread started by core runs in a copy of its starter's context (`in_context`), so its
lines carry the same ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, copy_context
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_fields: ContextVar[dict[str, str]] = ContextVar("observability_fields", default={})  # noqa: B039


def fields() -> dict[str, str]:
    """The ids bound in this context (a copy)."""
    return dict(_fields.get())


@contextmanager
def bind(**values: str | None) -> Iterator[None]:
    """Add ids to the context for the `with` block (None values are left out)."""
    token = _fields.set({**_fields.get(), **{k: v for k, v in values.items() if v is not None}})
    try:
        yield
    finally:
        _fields.reset(token)


def in_context(function: Callable[P, T]) -> Callable[P, T]:
    """`function`, to run in another thread in a copy of the current context."""
    context = copy_context()

    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return context.copy().run(function, *args, **kwargs)

    return run
