"""The shape sleeptime and voice_sleeptime share, kept apart so neither imports the other."""

from __future__ import annotations

from core.errors import BadRequestError
from core.groups.pattern import GroupPattern
from core.records import GroupRecord


class MainAgentAnswers(GroupPattern):
    """The shape sleeptime and voice_sleeptime share: the manager is the main agent and
    answers on its own; members (sleeptime agents) are optional and work in the
    background; the group counts foreground turns."""

    needs_manager = True

    def configure(self, group: GroupRecord) -> None:
        super().configure(group)
        if group.turns_counter is None:
            group.turns_counter = 0

    def check_send(self, group: GroupRecord) -> None:
        if group.manager_agent_id is None:
            raise BadRequestError("Empty group")
