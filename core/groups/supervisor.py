"""supervisor: the manager answers; its broadcast tool, forced as its first call, runs every
worker in parallel and returns one entry per worker, in member order.

As in Letta, the manager's rules for the send are replaced by an init rule on the broadcast,
a child rule from it to `send_message` and `send_message` as terminal: its first model call
is offered the broadcast alone (named in tool_choice), its next one `send_message` alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from core.groups.engine import GroupEngine
from core.groups.pattern import GroupPattern
from core.groups.send import GroupSend, Turn
from core.groups.transcript import public_text
from core.llm import ToolSpec
from core.runtime.tools import SEND_MESSAGE
from core.runtime.turn import TurnTool
from core.tools.catalog import BUILTIN_TOOLS

BROADCAST = "send_message_to_all_agents_in_group"
SENT = "Sent message successfully."


class Supervisor(GroupPattern):
    manager_type = "supervisor"
    needs_manager = True

    def run(self, engine: GroupEngine, send: GroupSend) -> None:
        manager = send.group.manager_agent_id or ""
        tool = broadcast_tool(lambda message: self._broadcast(engine, send, manager, message))
        turn = engine.take_turn(send, manager, tools=(tool, answer_tool()))
        send.stop_reason = turn.stop_reason
        # The workers' replies reached the manager through its tool result: do not relay
        # them to it again next time.
        engine.mark_seen(send, manager)

    @staticmethod
    def _broadcast(engine: GroupEngine, send: GroupSend, manager: str, message: str) -> str:
        workers = send.group.agent_ids
        brief = engine.note(send, message, sender_id=manager)
        results = engine.work_in_parallel(send, workers, brief)
        entries = []
        for worker, result in zip(workers, results, strict=True):
            if isinstance(result, Turn):
                engine.publish(send, result)
            entries.append(_entry(worker, send.names[worker], result))
        return json.dumps(entries)


def broadcast_tool(broadcast: Callable[[str], str]) -> TurnTool:
    """The catalog's broadcast tool, bound to this send's workers."""
    spec = BUILTIN_TOOLS[BROADCAST]
    return TurnTool(
        ToolSpec(spec.name, spec.description, spec.parameters),
        lambda arguments: broadcast(str(arguments["message"])),
        rules=(
            {"type": "run_first", "tool_name": BROADCAST},
            {"type": "constrain_child_tools", "tool_name": BROADCAST, "children": [SEND_MESSAGE]},
        ),
    )


def answer_tool() -> TurnTool:
    """`send_message`, lent so the child rule has its target whatever the manager's agent
    type (Letta's supervisor answers through it); terminal, so the answer ends the turn."""
    spec = BUILTIN_TOOLS[SEND_MESSAGE]
    return TurnTool(
        ToolSpec(spec.name, spec.description, spec.parameters),
        lambda _: SENT,
        rules=({"type": "exit_loop", "tool_name": SEND_MESSAGE},),
    )


def _entry(worker: str, name: str, result: Turn | Exception) -> dict[str, Any]:
    """What the manager learns of one worker: its reply, or why there is none."""
    if isinstance(result, Exception):
        return {
            "agent_id": worker,
            "name": name,
            "response": None,
            "error": f"failed: {type(result).__name__}",
        }
    replies = "\n".join(t for t in (public_text(r) for r in result.own) if t)
    if result.ended_normally:
        return {"agent_id": worker, "name": name, "response": replies}
    return {
        "agent_id": worker,
        "name": name,
        "error": f"stopped with {result.stop_reason}",
        "response": replies or None,
    }
