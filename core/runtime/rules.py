"""Tool rules: which tools the model may call next, and which calls end the turn.

Supported: run_first (init), constrain_child_tools (children), exit_loop (terminal),
continue_loop, requires_approval. Other rule types are stored and shown but not enforced.
Rules apply to every tool of the turn, the agent's own and the lent ones alike; a lent tool
may bring rules of its own (see `turn_rules`).
"""

from __future__ import annotations

from typing import Any

from core.runtime.tools import SEND_MESSAGE
from core.runtime.turn import TurnTool

FLOW_RULE_TYPES = frozenset({"run_first", "constrain_child_tools", "exit_loop", "continue_loop"})
"""Rules that decide the order of calls (as opposed to requires_approval)."""


def turn_rules(own: list[dict[str, Any]], lent: tuple[TurnTool, ...]) -> list[dict[str, Any]]:
    """The rules of one turn. Rules lent with a tool take the place of the agent's own flow
    rules for that turn, as Letta overrides a supervisor's rules while it coordinates (its
    own init rule would otherwise compete with the lent one); approval rules still hold."""
    lent_rules = [rule for tool in lent for rule in tool.rules]
    if not lent_rules:
        return own
    kept = [rule for rule in own if rule.get("type") not in FLOW_RULE_TYPES]
    return [*kept, *lent_rules]


class RuleBook:
    def __init__(self, rules: list[dict[str, Any]]) -> None:
        def names(kind: str) -> set[str]:
            return {r["tool_name"] for r in rules if r.get("type") == kind}

        self._init = names("run_first")
        self._terminal = names("exit_loop")
        self._continue = names("continue_loop")
        self._approval = names("requires_approval")
        self._children = {
            r["tool_name"]: list(r.get("children") or [])
            for r in rules
            if r.get("type") == "constrain_child_tools"
        }
        self._last_call: str | None = None

    def allowed_tools(self, tool_names: list[str], step_number: int) -> list[str]:
        """Which of `tool_names` (own and lent tools) the model may call at this step."""
        if step_number == 0 and self._init:
            return [t for t in tool_names if t in self._init] or tool_names
        if self._last_call in self._children:
            children = self._children[self._last_call]
            return [t for t in tool_names if t in children]
        return tool_names

    def must_call_tool(self, step_number: int) -> bool:
        return (step_number == 0 and bool(self._init)) or bool(
            self._children.get(self._last_call or "")
        )

    def requires_approval(self, tool_name: str) -> bool:
        return tool_name in self._approval

    def record_call(self, tool_name: str) -> None:
        self._last_call = tool_name

    def ends_turn(self, tool_name: str, replies_through_tool: bool) -> bool:
        if tool_name in self._continue:
            return False
        return tool_name in self._terminal or (replies_through_tool and tool_name == SEND_MESSAGE)
