"""The one interface every group pattern implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel

from core.errors import BadRequestError
from core.records import GroupRecord

if TYPE_CHECKING:  # only `run` needs the send machinery; the checks run without it
    from core.groups.engine import GroupEngine
    from core.groups.send import GroupSend


class GroupPattern(ABC):
    """A manager type: the rules its groups keep and how a send goes through them.

    `configure` and `check_members` run on create and modify, `check_send` before a send
    takes the lease, and
    `run` takes the send through the engine's verbs, leaving the stop reason on the send.
    """

    manager_type: ClassVar[str]
    needs_manager: ClassVar[bool] = False

    def configure(self, group: GroupRecord) -> None:
        """Refuse a config this pattern cannot run (400) and fill its own defaults."""
        if self.needs_manager and group.manager_agent_id is None:
            raise BadRequestError(f"A {self.manager_type} group needs a manager_agent_id.")

    def check_members(self, group: GroupRecord, names: list[str]) -> None:
        """Refuse members this pattern cannot tell apart (400); `names` are the members'
        names in member order. Runs on create and modify, once the members are read.
        Most patterns accept any names."""
        return

    def update(self, group: GroupRecord, manager: BaseModel) -> None:
        """Apply a checked manager_config update: the fields it sets, null included."""
        for field in manager.model_fields_set - {"manager_type"}:
            setattr(group, field, getattr(manager, field))

    def check_send(self, group: GroupRecord) -> None:
        """Refuse a send this group cannot take (400); members must speak by default."""
        if not group.agent_ids:
            raise BadRequestError("Empty group")

    @abstractmethod
    def run(self, engine: GroupEngine, send: GroupSend) -> None:
        """Take the send through its speakers; set `send.stop_reason`."""
