"""Group messaging: send (all five patterns), the transcript listing, edit and reset."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable

from core.errors import BadRequestError, ConflictError, InvalidInputError, NotFoundError
from core.paging import PageRequest
from core.persistence.retry import retry_on_conflict
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store
from core.records import AgentRecord, GroupRecord, MessageRecord, TranscriptRecord
from core.runtime import managers
from core.runtime.agent_loop import TurnOptions
from core.runtime.group_engine import GroupEngine, GroupSend
from core.runtime.inputs import input_records
from core.runtime.rendering import (
    RenderOptions,
    hide_streamed,
    partial_message,
    render,
    render_page,
)
from core.schemas.messages import (
    ApprovalCreate,
    LettaMessageBase,
    LettaRequest,
    LettaResponse,
    LettaStopReason,
    MessageCreate,
)
from core.services.agent_messages import render_options
from core.services.message_pages import page_of_children

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
        agents = self._store.get_many(tenant, AgentRecord, speakers)
        missing = [a for a in speakers if a not in agents]
        if missing:
            raise BadRequestError(
                f"Group members no longer exist: {', '.join(missing)}; modify the group."
            )
        names = {a: agents[a].name for a in speakers}
        waiting = [agents[a] for a in speakers if agents[a].pending_approval_id]
        approvals = [m for m in items if isinstance(m, ApprovalCreate)]
        if approvals:
            if len(items) != 1 or not waiting:
                raise BadRequestError(
                    "An approval must be sent alone, to a group waiting for one."
                    if waiting
                    else f"Nothing in group {group_id} is waiting for an approval."
                )
            inputs: list[MessageRecord] = []
        else:
            if waiting:
                raise ConflictError(
                    f"Group {group_id} is paused: agent {waiting[0].id} waits for a decision "
                    f"on the tool call(s) of message {waiting[0].pending_approval_id}; send an "
                    "approval first."
                )
            inputs = self._inputs(req, [agents[a] for a in speakers], items, group_id)
        options = render_options(req)

        streamed: dict[str, set[str]] = defaultdict(set)

        def forward(records: list[MessageRecord]) -> None:
            if emit is not None:
                rendered = hide_streamed(render(records, options), streamed)
                if rendered:
                    emit(rendered)

        def on_delta(agent_id: str, message_id: str, kind: str, text: str) -> None:
            streamed[message_id].add(kind)
            if emit is not None:
                emit(
                    [
                        partial_message(
                            message_id,
                            kind,
                            text,
                            name=names[agent_id],
                            sender_id=agent_id,
                            date=self._clock.now(),
                        )
                    ]
                )

        wants_tokens = emit is not None and getattr(req, "stream_tokens", False)
        group, lease = self._engine.acquire(tenant, group_id, known=group)
        send = GroupSend(
            tenant, group, req, names, emit=forward, on_delta=on_delta if wants_tokens else None
        )
        send.usage.run_ids = []  # runs started by this send (sleeptime patterns add them)
        try:
            if approvals:
                self._resume(send, lease, waiting[0], approvals[0])
            else:
                self._engine.append(send, lease, inputs)
                pattern(self._engine, send, lease)
        finally:
            self._engine.release(tenant, group_id, lease, known=send.group)
        return LettaResponse(
            messages=render(send.produced, options),
            stop_reason=LettaStopReason(stop_reason=send.stop_reason),
            usage=send.usage.to_wire(),
        )

    def _resume(
        self, send: GroupSend, lease: str, agent: AgentRecord, approval: ApprovalCreate
    ) -> None:
        """The paused agent gets the decision, runs (or refuses) the same tool call and
        finishes its turn; the pattern does not go on past it in this send."""
        options = TurnOptions(max_steps=send.request.max_steps, group_id=send.group.id)
        decided = self._engine.loop.approval_records(send.tenant, agent, approval, options)
        send.show(decided)
        turn = self._engine.speak(send, lease, agent.id, extra=decided, relay_transcript=False)
        send.stop_reason = turn.stop_reason

    def _inputs(
        self,
        req: LettaRequest,
        agents: list[AgentRecord],
        items: list[MessageCreate | ApprovalCreate],
        group_id: str,
    ) -> list[MessageRecord]:
        """The user's messages, checked against the model of every agent that may see them."""
        creates = [m for m in items if isinstance(m, MessageCreate)]
        handles = list(dict.fromkeys(req.override_model or a.model for a in agents))
        records: list[MessageRecord] = []
        for handle in handles:
            records = input_records(
                creates, handle, self._clock, limits=self._store.limits, group_id=group_id
            )
        return records

    def list(
        self, tenant: str, group_id: str, page: PageRequest, options: RenderOptions
    ) -> list[LettaMessageBase]:
        group = self._store.get(tenant, GroupRecord, group_id)
        if group is None:
            raise NotFoundError(f"Group not found: {group_id}")
        records = page_of_children(
            self._store, tenant, TranscriptRecord, group_id, page, group.transcript_start_seq
        )
        return render_page(records, page, options)

    @retry_on_conflict("the group")
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
        entry = self._store.find_child(tenant, TranscriptRecord, message_id)
        if entry is None or entry.parent_id != group_id or entry.seq < group.transcript_start_seq:
            raise NotFoundError(f"Message not found in group {group_id}: {message_id}")
        if text is None:
            raise InvalidInputError("Give the new text as `content` (or `reasoning`).")
        message_type = message_type or f"{entry.role}_message"
        uow = UnitOfWork(self._store, tenant, self._clock)
        entry = uow.track(TranscriptRecord, entry)
        _edit(entry, message_type, text)
        uow.touch(entry)
        own = self._store.find_child(tenant, MessageRecord, message_id)
        if own is not None:
            own = uow.track(MessageRecord, own)
            _edit(own, message_type, text)
            uow.touch(own)
        uow.commit()
        rendered = [m for m in render([entry], RenderOptions()) if m.message_type == message_type]
        return rendered[0]
