"""The built-in tools an agent can hold. This service runs no user code, so these are all.

Each tool has a stable id derived from its name, so the same tool shows the same id on
every agent and every deployment.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

_TOOL_NAMESPACE = uuid.UUID("6f1c2b1e-6a53-4a55-9d43-0b8f5c1d2e7a")


@dataclass(frozen=True)
class BuiltinTool:
    name: str
    description: str
    tool_type: str
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """`tool-<uuid>`: uuid5 of the name, stable across agents and deployments."""
        return f"tool-{uuid.uuid5(_TOOL_NAMESPACE, self.name)}"

    def json_schema(self) -> dict[str, Any]:
        """The function schema a model sees, in OpenAI function-calling form."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}


def _params(required: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


_STR = {"type": "string"}

BUILTIN_TOOLS: dict[str, BuiltinTool] = {
    tool.name: tool
    for tool in [
        BuiltinTool(
            "send_message",
            "Sends a message to the human user.",
            "letta_core",
            _params(["message"], message={**_STR, "description": "Message contents."}),
        ),
        BuiltinTool(
            "conversation_search",
            "Search prior conversation history using case-insensitive string matching.",
            "letta_core",
            _params(
                ["query"],
                query={**_STR, "description": "String to search for."},
                limit={"type": "integer", "description": "Maximum number of results."},
            ),
        ),
        BuiltinTool(
            "core_memory_append",
            "Append to the contents of core memory.",
            "letta_memory_core",
            _params(["label", "content"], label=_STR, content=_STR),
        ),
        BuiltinTool(
            "core_memory_replace",
            "Replace the contents of core memory. To delete memories, use an empty string.",
            "letta_memory_core",
            _params(
                ["label", "old_content", "new_content"],
                label=_STR,
                old_content=_STR,
                new_content=_STR,
            ),
        ),
        BuiltinTool(
            "memory_insert",
            "Insert text at a specific line in a memory block.",
            "letta_sleeptime_core",
            _params(
                ["label", "new_str"],
                label=_STR,
                new_str=_STR,
                insert_line={"type": "integer", "description": "Line after which to insert."},
            ),
        ),
        BuiltinTool(
            "memory_replace",
            "Replace an exact, unique string in a memory block with another.",
            "letta_sleeptime_core",
            _params(["label", "old_str", "new_str"], label=_STR, old_str=_STR, new_str=_STR),
        ),
        BuiltinTool(
            "memory_rethink",
            "Rewrite a whole memory block with a reorganised version of its contents.",
            "letta_sleeptime_core",
            _params(["label", "new_memory"], label=_STR, new_memory=_STR),
        ),
        BuiltinTool(
            "memory_finish_edits",
            "Call when you have finished editing memory.",
            "letta_sleeptime_core",
            _params([]),
        ),
        BuiltinTool(
            "search_memory",
            "Look in earlier-conversation memory only when the user asks about something "
            "missing from the visible context.",
            "letta_voice_sleeptime_core",
            _params(
                ["convo_keyword_queries", "start_minutes_ago", "end_minutes_ago"],
                convo_keyword_queries={
                    "type": ["array", "null"],
                    "items": _STR,
                    "description": "Keywords (names, ids) to look for; null if none.",
                },
                start_minutes_ago={
                    "type": ["integer", "null"],
                    "description": "Newer bound of the time window, in minutes ago; or null.",
                },
                end_minutes_ago={
                    "type": ["integer", "null"],
                    "description": "Older bound of the time window, in minutes ago; or null.",
                },
            ),
        ),
        BuiltinTool(
            "store_memories",
            "Persist dialogue that is about to fall out of the agent's context window: each "
            "chunk names a range of the evicted lines and a short synopsis of them.",
            "letta_voice_sleeptime_core",
            _params(
                ["chunks"],
                chunks={
                    "type": "array",
                    "items": _params(
                        ["start_index", "end_index", "context"],
                        start_index={"type": "integer"},
                        end_index={"type": "integer"},
                        context=_STR,
                    ),
                },
            ),
        ),
        BuiltinTool(
            "rethink_user_memory",
            "Rewrite the user's memory block (`human`) with everything still true in it and "
            "the new information, organised and readable.",
            "letta_voice_sleeptime_core",
            _params(["new_memory"], new_memory=_STR),
        ),
        BuiltinTool(
            "finish_rethinking_memory",
            "Call when you have finished rethinking the memory.",
            "letta_voice_sleeptime_core",
            _params([]),
        ),
        BuiltinTool(
            "send_message_to_all_agents_in_group",
            "Sends a message to every worker agent in the group and returns their replies.",
            "letta_multi_agent_core",
            _params(["message"], message={**_STR, "description": "Message to broadcast."}),
        ),
    ]
}

MEMORY_TOOLS = ["memory_insert", "memory_replace", "memory_rethink"]

BASE_TOOLS_BY_AGENT_TYPE: dict[str, list[str]] = {
    "letta_v1_agent": [*MEMORY_TOOLS, "conversation_search"],
    "react_agent": ["conversation_search"],
    "memgpt_agent": [
        "send_message",
        "core_memory_append",
        "core_memory_replace",
        "conversation_search",
    ],
    "memgpt_v2_agent": ["send_message", *MEMORY_TOOLS, "conversation_search"],
    "sleeptime_agent": [*MEMORY_TOOLS, "memory_finish_edits"],
    "voice_convo_agent": ["search_memory", "send_message"],
    "voice_sleeptime_agent": ["store_memories", "rethink_user_memory", "finish_rethinking_memory"],
}
"""What `include_base_tools=true` attaches, by agent type (Letta 0.11.7's sets)."""


def _rule(kind: str, tool: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "tool_name": tool, "prompt_template": None, **extra}


BASE_TOOL_RULES: dict[str, list[dict[str, Any]]] = {
    # A sleeptime agent goes on after each memory edit and stops at memory_finish_edits,
    # so a model that never answers in plain text still ends its pass there.
    "sleeptime_agent": [
        *(_rule("continue_loop", tool) for tool in MEMORY_TOOLS),
        _rule("exit_loop", "memory_finish_edits"),
    ],
    # Letta's VoiceSleeptimeAgent: store the evicted lines first, then rethink the user's
    # memory until it says it is finished.
    "voice_sleeptime_agent": [
        _rule("run_first", "store_memories"),
        _rule("constrain_child_tools", "store_memories", children=["rethink_user_memory"]),
        _rule("continue_loop", "rethink_user_memory"),
        _rule("exit_loop", "finish_rethinking_memory"),
    ],
}
"""Rules `include_base_tool_rules` adds, by agent type, each kept only when the agent
holds its tool."""


def base_tool_rules(agent_type: str, tool_names: list[str]) -> list[dict[str, Any]]:
    """The base rules of the agent type for the tools the agent holds."""
    held = set(tool_names)
    return [r for r in BASE_TOOL_RULES.get(agent_type, []) if r["tool_name"] in held]


SUPPORTED_AGENT_TYPES = tuple(BASE_TOOLS_BY_AGENT_TYPE)
