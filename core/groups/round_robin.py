"""round_robin: members speak in `agent_ids` order, `max_turns` turns (default: one each)."""

from __future__ import annotations

from core.groups.engine import GroupEngine
from core.groups.pattern import GroupPattern
from core.groups.send import GroupSend


class RoundRobin(GroupPattern):
    manager_type = "round_robin"

    def run(self, engine: GroupEngine, send: GroupSend) -> None:
        members = send.group.agent_ids
        turns = send.group.max_turns or len(members)
        for number in range(turns):
            last = number == turns - 1  # its write also frees the group
            turn = engine.take_turn(send, members[number % len(members)], last=last)
            if not turn.ended_normally:
                send.stop_reason = turn.stop_reason
                return
