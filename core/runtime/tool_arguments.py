"""Reading the arguments of a tool call: strictly before running it, leniently to show it.

A call the model got wrong (a tool it may not call, arguments that are not a JSON object,
miss a required field or have the wrong simple type) is an InvalidToolCall, checked against
the tool's own spec, whether the tool is built in or lent for the turn.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: rendering stored calls needs no model types
    from core.llm import ToolCall, ToolSpec


class InvalidToolCall(Exception):
    """The model called a tool that does not exist here or gave unusable arguments."""


def parse_arguments(call: ToolCall, available: Mapping[str, ToolSpec]) -> dict[str, Any]:
    """The call's arguments, checked against the spec of the tool it names."""
    spec = available.get(call.name)
    if spec is None:
        raise InvalidToolCall(
            f"Tool {call.name!r} is not available to this agent now; available: "
            f"{', '.join(available) or 'none'}."
        )
    try:
        arguments = json.loads(call.arguments or "{}")
    except json.JSONDecodeError as exc:
        raise InvalidToolCall(f"Arguments of {call.name!r} are not valid JSON: {exc}.") from exc
    if not isinstance(arguments, dict):
        raise InvalidToolCall(f"Arguments of {call.name!r} must be a JSON object.")
    parameters = spec.parameters
    missing = [field for field in parameters.get("required", []) if field not in arguments]
    if missing:
        raise InvalidToolCall(f"{call.name!r} is missing argument(s): {', '.join(missing)}.")
    for field, schema in parameters.get("properties", {}).items():
        value = arguments.get(field)
        if value is not None and not _has_type(value, schema.get("type")):
            raise InvalidToolCall(
                f"Argument {field!r} of {call.name!r} must be of type {schema.get('type')}, "
                f"got {value!r}."
            )
    return arguments


def _has_type(value: Any, kind: str | None) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    return True


def tool_call_arguments(arguments: str) -> dict[str, Any]:
    """Arguments as a dict when they parse, else empty (for rendering only)."""
    try:
        value = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
