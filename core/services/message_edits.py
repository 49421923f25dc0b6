"""PATCH /v1/groups/{group_id}/messages/{message_id}: edit a transcript entry and the
speaker's own copy together, so the group and the agent keep agreeing."""

from __future__ import annotations

import json
from typing import TypeVar

from core.errors import BadRequestError, InvalidInputError, NotFoundError
from core.groups.busy import ensure_idle
from core.groups.transcript import relayed_id
from core.message_parts import MAIN, REASONING, owners
from core.persistence.retry import retry_on_conflict
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store
from core.records import ChildRecord, GroupRecord, MessageRecord, TranscriptRecord
from core.runtime.rendering import RenderOptions, render, slots
from core.schemas.messages import LettaMessageBase

C = TypeVar("C", bound=ChildRecord)


def _edit(record: MessageRecord, message_type: str, text: str) -> None:
    """Apply an edit of one rendered message type to the stored message."""
    allowed = {
        "user_message": "user",
        "system_message": "system",
        "assistant_message": "assistant",
        "reasoning_message": "assistant",
    }
    if allowed.get(message_type) != record.role:
        raise BadRequestError(
            f"Message {record.id} is a {record.role} message; it has no {message_type} to edit."
        )
    if message_type == "reasoning_message":
        if not record.reasoning or not record.reasoning.get("text"):
            raise BadRequestError(f"Message {record.id} has no reasoning to edit.")
        record.reasoning = {**record.reasoning, "text": text, "signature": None}
        return
    if message_type == "assistant_message" and not record.text:
        for call in record.tool_calls:
            if call["name"] == "send_message":
                call["arguments"] = json.dumps({"message": text})
                return
        raise BadRequestError(f"Message {record.id} has no assistant text to edit.")
    record.text = text
    record.content = None


class MessageEdit:
    """PATCH /v1/groups/{group_id}/messages/{message_id}: edit the transcript entry, the
    speaker's own copy and the copy relayed to each member (found by its derived id)
    together, so the group and every agent keep agreeing."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    @retry_on_conflict("the message")
    def apply(
        self,
        tenant: str,
        group_id: str,
        message_id: str,
        message_type: str | None,
        text: str | None,
    ) -> LettaMessageBase:
        group = self._store.get(tenant, GroupRecord, group_id)
        if group is None:
            raise NotFoundError(f"Group not found: {group_id}")
        found = self._entry(tenant, group, message_id)
        if found is None:
            raise NotFoundError(f"Message not found in group {group_id}: {message_id}")
        entry, slot = found
        if text is None:
            raise InvalidInputError("Give the new text as `content` (or `reasoning`).")
        ensure_idle(group, self._clock.now(), "editing its transcript")
        if message_type is None:
            message_type = "reasoning_message" if slot == REASONING else f"{entry.role}_message"
        uow = UnitOfWork(self._store, tenant, self._clock)
        entry = uow.track(TranscriptRecord, entry)
        _edit(entry, message_type, text)
        uow.touch(entry)
        own = self._current(tenant, MessageRecord, entry.id)
        copies = [
            self._current(tenant, MessageRecord, relayed_id(entry.id, member))
            for member in group.agent_ids_with_manager()
        ]
        if own is not None:
            own = uow.track(MessageRecord, own)
            _edit(own, message_type, text)
            uow.touch(own)
        if message_type != "reasoning_message":  # copies hold only what was said out loud
            for copy in (c for c in copies if c is not None):
                copy = uow.track(MessageRecord, copy)
                copy.text, copy.content = text, None
                uow.touch(copy)
        uow.commit()
        shown = [m for m in render([entry], RenderOptions()) if m.message_type == message_type]
        return next((m for m in shown if m.id == message_id), shown[0])

    def _entry(
        self, tenant: str, group: GroupRecord, message_id: str
    ) -> tuple[TranscriptRecord, int] | None:
        """The transcript entry a message id names (the id of any of its parts), and the
        part's slot."""
        for record_id, slot in owners(message_id):
            entry = self._current(tenant, TranscriptRecord, record_id)
            if (
                entry is not None
                and entry.parent_id == group.id
                and entry.seq >= group.transcript_start_seq
                and (slot == MAIN or slot in slots(entry))
            ):
                return entry, slot
        return None

    def _current(self, tenant: str, kind: type[C], message_id: str) -> C | None:
        """The message as stored now: the id index says where it is (eventually
        consistent), the key read gets its latest version (the edit checks it)."""
        found = self._store.find_child(tenant, kind, message_id)
        if found is None:
            return None
        return self._store.get_child(tenant, kind, found.parent_id, found.seq)
