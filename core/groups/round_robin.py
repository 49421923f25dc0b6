"""round_robin: members speak in `agent_ids` order, `max_turns` turns (default: one each)."""

from __future__ import annotations

from core.groups.engine import GroupEngine
from core.groups.pattern import GroupPattern
from core.groups.send import GroupSend


class RoundRobin(GroupPattern):
    manager_type = "round_robin"

    def run(self, engine: GroupEngine, send: GroupSend) -> None:
        members = send.group.agent_ids
        for number in range(send.group.max_turns or len(members)):
            turn = engine.take_turn(send, members[number % len(members)])
            if not turn.ended_normally:
                send.stop_reason = turn.stop_reason
                return
