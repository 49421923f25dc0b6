"""The base of core's pydantic models: each builds its validator and serializer on first
use instead of at import.

Core declares about 130 models and a cold start touches a handful; building them all at
import cost about 200 ms of every Lambda init. A model still builds fully before it
validates, serializes or lists a JSON schema, so nothing about its behaviour changes.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

DEFERRED = ConfigDict(defer_build=True)
"""The same for a module-level `TypeAdapter` of a union or a list."""


class LazyModel(BaseModel):
    """`BaseModel` with `defer_build`: the schema is built the first time it is needed."""

    model_config = DEFERRED
