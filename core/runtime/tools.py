"""Running the built-in tools an agent calls.

Two kinds of failure are kept apart: a call the model got wrong (unknown tool, arguments
that are not a JSON object or miss a required field) is an InvalidToolCall and ends the step
with `invalid_tool_call`; a well-formed call that cannot be done (no such block, over the
limit, read-only) is a ToolError whose message goes back to the model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.llm import ToolCall, ToolSpec
from core.records import BlockRecord
from core.runtime import memory
from core.runtime.memory import ToolError
from core.tools.catalog import BUILTIN_TOOLS

SEND_MESSAGE = "send_message"
BROADCAST = "send_message_to_all_agents_in_group"


class InvalidToolCall(Exception):
    """The model called a tool that does not exist here or gave unusable arguments."""


@dataclass
class ToolContext:
    """What tools may touch during one step."""

    blocks: list[BlockRecord]
    touched: set[str]
    search: Callable[[str, int], list[str]]
    broadcast: Callable[[str], str] | None = None


def tool_specs(names: list[str]) -> list[ToolSpec]:
    return [
        ToolSpec(BUILTIN_TOOLS[n].name, BUILTIN_TOOLS[n].description, BUILTIN_TOOLS[n].parameters)
        for n in names
        if n in BUILTIN_TOOLS
    ]


def parse_arguments(call: ToolCall, allowed: list[str]) -> dict[str, Any]:
    if call.name not in allowed:
        raise InvalidToolCall(
            f"Tool {call.name!r} is not available to this agent now; available: "
            f"{', '.join(allowed) or 'none'}."
        )
    try:
        arguments = json.loads(call.arguments or "{}")
    except json.JSONDecodeError as exc:
        raise InvalidToolCall(f"Arguments of {call.name!r} are not valid JSON: {exc}.") from exc
    if not isinstance(arguments, dict):
        raise InvalidToolCall(f"Arguments of {call.name!r} must be a JSON object.")
    parameters = BUILTIN_TOOLS[call.name].parameters
    missing = [field for field in parameters.get("required", []) if field not in arguments]
    if missing:
        raise InvalidToolCall(f"{call.name!r} is missing argument(s): {', '.join(missing)}.")
    for field, spec in parameters.get("properties", {}).items():
        value = arguments.get(field)
        if value is not None and not _has_type(value, spec.get("type")):
            raise InvalidToolCall(
                f"Argument {field!r} of {call.name!r} must be of type {spec.get('type')}, "
                f"got {value!r}."
            )
    return arguments


def _has_type(value: Any, kind: str | None) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return True


def execute(name: str, args: dict[str, Any], ctx: ToolContext) -> str:
    """Run one tool; returns its result text or raises ToolError."""
    if name == SEND_MESSAGE:
        return "Sent message successfully."
    if name == "memory_finish_edits":
        return "Finished editing memory."
    if name == "conversation_search":
        hits = ctx.search(str(args["query"]), int(args.get("limit") or 5))
        return json.dumps(hits) if hits else "No results found."
    if name == BROADCAST:
        if ctx.broadcast is None:
            raise ToolError(f"{BROADCAST} only works inside a supervisor group.")
        return ctx.broadcast(str(args["message"]))
    return _edit_memory(name, args, ctx)


def _edit_memory(name: str, args: dict[str, Any], ctx: ToolContext) -> str:
    block = memory.block_by_label(ctx.blocks, str(args["label"]))
    if name == "core_memory_append":
        result = memory.append(block, str(args["content"]))
    elif name == "core_memory_replace":
        result = memory.replace(
            block, str(args["old_content"]), str(args["new_content"]), unique=False
        )
    elif name == "memory_replace":
        result = memory.replace(block, str(args["old_str"]), str(args["new_str"]), unique=True)
    elif name == "memory_insert":
        line = args.get("insert_line")
        result = memory.insert(block, str(args["new_str"]), int(line) if line is not None else None)
    elif name == "memory_rethink":
        result = memory.rethink(block, str(args["new_memory"]))
    else:
        raise ToolError(f"Tool {name!r} has no implementation here.")
    ctx.touched.add(block.id)
    return result
