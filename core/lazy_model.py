"""The base of core's pydantic models: each builds its validator and serializer on first
use instead of at import.

Core declares about 130 models and a cold start touches a handful; building them all at
import cost about 200 ms of every Lambda init. A model still builds fully before it
validates, serializes or lists a JSON schema, so nothing about its behaviour changes.

The modules that declare many models (`core/schemas/*`, `core/records.py`) do without
`from __future__ import annotations`: with it, pydantic compiles and evaluates every
annotation string when the class is made, which is most of what a deferred model still
costs at import. Forward references there are quoted by hand.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter

DEFERRED = ConfigDict(defer_build=True)
"""The config of a deferred `TypeAdapter` (made with `deferred_adapter`)."""

_ADAPTERS: list[TypeAdapter[Any]] = []


class LazyModel(BaseModel):
    """`BaseModel` with `defer_build`: the schema is built the first time it is needed."""

    model_config = DEFERRED


def deferred_adapter(type_: Any) -> TypeAdapter[Any]:
    """A module-level `TypeAdapter` of a union or a list, built on first use like the
    models (and by `build_all`)."""
    adapter: TypeAdapter[Any] = TypeAdapter(type_, config=DEFERRED)
    _ADAPTERS.append(adapter)
    return adapter


def build_all() -> int:
    """Build every lazy model defined so far and every deferred adapter: for a process
    that is about to be snapshotted (SnapStart), where init is paid once. Returns how many
    models were built."""
    built = 0
    pending: list[type[BaseModel]] = [LazyModel]
    while pending:
        for model in pending.pop().__subclasses__():
            if not model.__pydantic_complete__:
                model.model_rebuild()
                built += 1
            pending.append(model)
    for adapter in _ADAPTERS:
        adapter.rebuild()
    return built
