"""The built-in tools this service implements, as pure functions of their arguments.

A well-formed call that cannot be done (no such block, over the limit, read-only, a tool
with no implementation in this context) is a ToolError whose message goes back to the
model. Checking the call itself is core.runtime.tool_arguments' job; reading and writing
the store around a call is core.runtime.tool_execution's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.llm import ToolSpec
from core.records import BlockRecord
from core.runtime import memory
from core.runtime.memory import ToolError
from core.tools.catalog import BUILTIN_TOOLS

SEND_MESSAGE = "send_message"
USER_MEMORY = "human"
"""The block a voice sleeptime agent's rethink_user_memory rewrites (Letta's choice)."""
SEARCH_MEMORY_HITS = 3
"""Matches search_memory gives per keyword, as Letta's voice agent."""

MEMORY_EDITING_TOOLS = frozenset(
    {
        "core_memory_append",
        "core_memory_replace",
        "memory_insert",
        "memory_replace",
        "memory_rethink",
        "rethink_user_memory",
    }
)
"""Tools that change memory blocks; their edits are committed with the blocks' versions."""


@dataclass
class ToolContext:
    """What tools may touch during one step."""

    blocks: list[BlockRecord]
    touched: set[str]
    search: Callable[[str, int], list[str]]


def tool_specs(names: list[str]) -> list[ToolSpec]:
    return [
        ToolSpec(BUILTIN_TOOLS[n].name, BUILTIN_TOOLS[n].description, BUILTIN_TOOLS[n].parameters)
        for n in names
        if n in BUILTIN_TOOLS
    ]


def execute(name: str, args: dict[str, Any], ctx: ToolContext) -> str:
    """Run one tool; returns its result text or raises ToolError."""
    if name == SEND_MESSAGE:
        return "Sent message successfully."
    if name == "memory_finish_edits":
        return "Finished editing memory."
    if name == "finish_rethinking_memory":
        return "Finished rethinking memory."
    if name == "store_memories":
        return _store_memories(args)
    if name == "search_memory":
        return _search_memory(args, ctx)
    if name == "conversation_search":
        hits = ctx.search(str(args["query"]), int(args.get("limit") or 5))
        return json.dumps(hits) if hits else "No results found."
    if name in MEMORY_EDITING_TOOLS:
        return _edit_memory(name, args, ctx)
    # A catalog tool only a caller can provide (a group's coordination tool), called
    # where no one lent it.
    raise ToolError(f"Tool {name!r} is not available in this context.")


def _edit_memory(name: str, args: dict[str, Any], ctx: ToolContext) -> str:
    label = USER_MEMORY if name == "rethink_user_memory" else str(args["label"])
    block = memory.block_by_label(ctx.blocks, label)
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
    else:
        result = memory.rethink(block, str(args["new_memory"]))
    ctx.touched.add(block.id)
    return result


def _store_memories(args: dict[str, Any]) -> str:
    """Letta files each chunk in archival memory; this service has none, so the synopses
    stay in the calling agent's history (this call) and are acknowledged."""
    chunks = args.get("chunks") or []
    for chunk in chunks:
        if not isinstance(chunk, dict) or not str(chunk.get("context") or "").strip():
            raise ToolError("Each chunk needs start_index, end_index and a non-empty context.")
    return f"Stored {len(chunks)} memory chunk(s)."


def _search_memory(args: dict[str, Any], ctx: ToolContext) -> str:
    """Letta's voice search: each keyword looked up in the agent's whole conversation
    (messages that left its context included)."""
    keywords = [str(k) for k in args.get("convo_keyword_queries") or [] if str(k).strip()]
    found = {k: hits for k in keywords if (hits := ctx.search(k, SEARCH_MEMORY_HITS))}
    return json.dumps({"convo_keyword_search_results": found}, indent=2)
