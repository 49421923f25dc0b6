"""A misbehaving model for the loopback OpenAI-compatible fake: it always calls a tool.

Like the fake Letta's own group tests run on, it calls the tool `tool_choice` names, else
`send_message` when it is offered, else the first tool offered, and never answers in plain
text while it has a tool. Each string argument quotes the latest user message, so what the
model was told can be traced; `thinking` (the legacy agents' inner-thought argument) says
which tool it chose. Models named `tool-caller...` get this behaviour from `FakeOpenAI`.
"""

from __future__ import annotations

import json
from typing import Any

MODEL_PREFIX = "tool-caller"


def latest_input(body: dict[str, Any]) -> str:
    """The text of the newest user message of a chat-completions request."""
    for message in reversed(body["messages"]):
        if message["role"] != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        return str(content or "")
    return ""


def chosen_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The function the misbehaving model calls, or None when no tool is offered."""
    tools = [t["function"] for t in body.get("tools") or ()]
    if not tools:
        return None
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        named = choice["function"]["name"]
        return next(t for t in tools if t["name"] == named)
    return next((t for t in tools if t["name"] == "send_message"), tools[0])


def arguments_for(tool: dict[str, Any], said: str) -> dict[str, Any]:
    """A value for every required argument of the tool's schema."""
    schema = tool.get("parameters") or {}
    properties = schema.get("properties") or {}
    arguments: dict[str, Any] = {}
    for name in schema.get("required") or ():
        kind = (properties.get(name) or {}).get("type")
        if name == "thinking":
            arguments[name] = f"I will call {tool['name']}."
        elif kind == "integer":
            arguments[name] = 1
        elif kind == "boolean":
            arguments[name] = False
        elif name == "label":
            arguments[name] = "human"
        else:
            arguments[name] = f"{tool['name']}: {said}"
    return arguments


def tool_calling_message(body: dict[str, Any], call_number: int) -> dict[str, Any]:
    """The assistant message of one answer: a tool call whenever a tool is offered."""
    said = latest_input(body)
    tool = chosen_tool(body)
    if tool is None:
        return {"role": "assistant", "content": f"fake-openai: {said}"}
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": f"call_fake_{call_number}",
                "type": "function",
                "function": {
                    "name": tool["name"],
                    "arguments": json.dumps(arguments_for(tool, said)),
                },
            }
        ],
    }
