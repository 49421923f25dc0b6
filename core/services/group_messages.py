"""Group messaging: send (all five patterns), the transcript listing, edit and reset."""

from __future__ import annotations

import json
from collections.abc import Callable

from core.errors import BadRequestError, InvalidInputError, NotFoundError
from core.paging import PageRequest
from core.ports import Clock, Store
from core.records import AgentRecord, GroupRecord, MessageRecord, TranscriptRecord
from core.runtime import managers
from core.runtime.group_engine import GroupEngine, GroupSend
from core.runtime.inputs import input_records
from core.runtime.rendering import RenderOptions, render, render_page
from core.schemas.messages import (
    LettaMessageBase,
    LettaRequest,
    LettaResponse,
    LettaStopReason,
    MessageCreate,
)
from core.services.agent_messages import render_options
from core.services.message_pages import page_of_children
from core.services.unit_of_work import UnitOfWork, retry_on_conflict

PATTERNS: dict[str, managers.Manager] = {
    "round_robin": managers.round_robin,
    "supervisor": managers.supervisor,
    "dynamic": managers.dynamic,
}

Emit = Callable[[list[LettaMessageBase]], None]


class GroupMessageService:
    def __init__(self, store: Store, clock: Clock, engine: GroupEngine) -> None:
        self._store = store
        self._clock = clock
        self._engine = engine
        self._patterns: dict[str, managers.Manager] = dict(PATTERNS)

    def register_pattern(self, manager_type: str, pattern: managers.Manager) -> None:
        """Patterns that need more than the engine (sleeptime's background runs) plug in."""
        self._patterns[manager_type] = pattern

    def send(
        self, tenant: str, group_id: str, req: LettaRequest, emit: Emit | None = None
    ) -> LettaResponse:
        group = self._store.get(tenant, GroupRecord, group_id)
        if group is None:
            raise NotFoundError(f"Group not found: {group_id}")
        speakers = group.agent_ids_with_manager()
        if not group.agent_ids and group.manager_type not in ("sleeptime", "voice_sleeptime"):
            raise BadRequestError("Empty group")
        if not speakers:
            raise BadRequestError("Empty group")
        pattern = self._patterns.get(group.manager_type)
        if pattern is None:
            raise BadRequestError(f"Sending to a {group.manager_type} group is not supported.")
        items = req.as_messages()
        if not all(isinstance(m, MessageCreate) for m in items):
            raise InvalidInputError(
                "Group sends take user messages; approvals go to the agent that asked.",
                ("body", "messages"),
            )
        names = self._engine.names_of(tenant, speakers)
        inputs = self._inputs(tenant, speakers, items, group_id)
        options = render_options(req)

        def forward(records: list[MessageRecord]) -> None:
            if emit is not None:
                rendered = render(records, options)
                if rendered:
                    emit(rendered)

        group, lease = self._engine.acquire(tenant, group_id)
        send = GroupSend(tenant, group, req, names, emit=forward)
        send.usage.run_ids = []  # runs started by this send (sleeptime patterns add them)
        try:
            self._engine.append(send, lease, inputs)
            pattern(self._engine, send, lease)
        finally:
            self._engine.release(tenant, group_id, lease)
        return LettaResponse(
            messages=render(send.produced, options),
            stop_reason=LettaStopReason(stop_reason=send.stop_reason),
            usage=send.usage.to_wire(),
        )

    def _inputs(
        self, tenant: str, speakers: list[str], items: list, group_id: str
    ) -> list[MessageRecord]:
        """The user's messages, checked against the model of every agent that may see them."""
        agents = self._store.get_many(tenant, AgentRecord, speakers)
        records: list[MessageRecord] = []
        for agent in agents.values():
            records = input_records(items, agent.model, self._clock, group_id=group_id)
        return records

    def list(
        self, tenant: str, group_id: str, page: PageRequest, options: RenderOptions
    ) -> list[LettaMessageBase]:
        group = self._store.get(tenant, GroupRecord, group_id)
        if group is None:
            raise NotFoundError(f"Group not found: {group_id}")
        records = page_of_children(self._store, tenant, TranscriptRecord, group_id, page)
        live = [r for r in records if r.seq >= group.transcript_start_seq]
        return render_page(live, page, options)

    @retry_on_conflict
    def reset(self, tenant: str, group_id: str) -> None:
        """Clear the transcript and every member's context of it (the records stay stored
        but are no longer listed or given to anyone)."""
        uow = UnitOfWork(self._store, tenant, self._clock)
        group = uow.load(GroupRecord, group_id)
        group.transcript_start_seq = group.next_transcript_seq
        group.seen = {}
        uow.touch(group)
        for agent in uow.load_existing(AgentRecord, group.agent_ids_with_manager()):
            agent.context_start_seq = agent.next_message_seq
            agent.summary = None
            uow.touch(agent)
        uow.commit()


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
    """PATCH /v1/groups/{group_id}/messages/{message_id}: edit the transcript entry and the
    speaker's own copy together, so the group and the agent keep agreeing."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    @retry_on_conflict
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
        entry = self._store.find_child(tenant, TranscriptRecord, message_id)
        if entry is None or entry.parent_id != group_id or entry.seq < group.transcript_start_seq:
            raise NotFoundError(f"Message not found in group {group_id}: {message_id}")
        if text is None:
            raise InvalidInputError("Give the new text as `content` (or `reasoning`).")
        message_type = message_type or f"{entry.role}_message"
        uow = UnitOfWork(self._store, tenant, self._clock)
        entry = uow.load_child(TranscriptRecord, entry)
        _edit(entry, message_type, text)
        uow.touch(entry)
        own = self._store.find_child(tenant, MessageRecord, message_id)
        if own is not None:
            own = uow.load_child(MessageRecord, own)
            _edit(own, message_type, text)
            uow.touch(own)
        uow.commit()
        rendered = [m for m in render([entry], RenderOptions()) if m.message_type == message_type]
        return rendered[0]
