"""Group messaging: send (any pattern), the transcript listing, and reset."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from core.errors import BadRequestError, ConflictError, NotFoundError
from core.groups.engine import GroupEngine
from core.groups.lease import ensure_free
from core.groups.pattern import GroupPattern
from core.groups.registry import pattern_for
from core.groups.send import GroupSend, SendCancelled
from core.observability import bind
from core.paging import PageRequest
from core.persistence.retry import not_replayable, retry_on_conflict
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store
from core.records import AgentRecord, GroupRecord, MessageRecord, TranscriptRecord
from core.runtime.agent_loop import TurnOptions
from core.runtime.inputs import input_records
from core.runtime.rendering import RenderOptions, render, render_page
from core.schemas.messages import (
    ApprovalCreate,
    LettaMessage,
    LettaRequest,
    LettaResponse,
    LettaStopReason,
    MessageCreate,
)
from core.services.agent_messages import render_options
from core.services.message_pages import page_of_children
from core.services.streaming import ResponseStream

logger = logging.getLogger(__name__)

Emit = Callable[[list[LettaMessage]], None]


@dataclass(frozen=True)
class PreparedSend:
    """A checked send: the group as read, its pattern, speakers' names, and either the
    approval it answers (with the agents waiting) or its input records."""

    group: GroupRecord
    pattern: GroupPattern
    names: dict[str, str]
    waiting: list[AgentRecord]
    approval: ApprovalCreate | None
    inputs: list[MessageRecord]


class RunHooks(Protocol):
    """What a Run doing a send wants of it: its messages as they are saved, tagged with
    its id, and a stop before the next turn once it is cancelled."""

    run_id: str

    def saved(self, records: list[MessageRecord]) -> None: ...

    def should_stop(self) -> bool: ...


DEFAULT_SEND_DEADLINE_S = 840.0
"""Under the 900 s a worker or stream function may run: the send ends on its own terms."""


class GroupMessageService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        engine: GroupEngine,
        send_deadline_s: float = DEFAULT_SEND_DEADLINE_S,
    ) -> None:
        """`send_deadline_s`: wall-clock time after which a send stops before its next
        turn, as `cancelled`, keeping what it produced (no send runs unbounded)."""
        self._store = store
        self._clock = clock
        self._engine = engine
        self._send_deadline_s = send_deadline_s

    def send(
        self,
        tenant: str,
        group_id: str,
        req: LettaRequest,
        emit: Emit | None = None,
        *,
        run: RunHooks | None = None,
    ) -> LettaResponse:
        with bind(tenant=tenant, group_id=group_id, run_id=run.run_id if run else None):
            response = self._send(tenant, group_id, req, emit, run)
            logger.info(
                "group send done",
                extra={
                    "stop_reason": response.stop_reason.stop_reason,
                    "messages": len(response.messages),
                },
            )
        return response

    def _send(
        self,
        tenant: str,
        group_id: str,
        req: LettaRequest,
        emit: Emit | None,
        run: RunHooks | None,
    ) -> LettaResponse:
        prepared = self.prepare(tenant, group_id, req)
        options = render_options(req)
        stream = ResponseStream(emit, options, self._clock) if emit is not None else None
        names = prepared.names

        def show(records: list[MessageRecord]) -> None:
            if stream is not None:
                stream.saved(records)
            if run is not None:
                run.saved(records)

        def on_delta(agent_id: str, message_id: str, kind: str, text: str) -> None:
            assert stream is not None
            stream.piece(message_id, kind, text, name=names[agent_id], sender_id=agent_id)

        wants_tokens = stream is not None and getattr(req, "stream_tokens", False)
        send = self._engine.open(
            tenant,
            prepared.group,
            req,
            names,
            emit=show if stream is not None or run is not None else None,
            on_delta=on_delta if wants_tokens else None,
        )
        if run is not None:
            send.run_id = run.run_id
        send.should_stop = self._stop_check(run)
        try:
            with not_replayable():
                if prepared.approval is not None:
                    self._resume(send, prepared.waiting[0], prepared.approval)
                else:
                    self._engine.append(send, prepared.inputs)
                    prepared.pattern.run(self._engine, send)
        except SendCancelled:
            send.stop_reason = "cancelled"
        finally:
            self._engine.close(send)
        return LettaResponse(
            messages=render(send.produced, options),
            stop_reason=LettaStopReason(stop_reason=send.stop_reason),
            usage=send.usage.to_wire(),
        )

    def _stop_check(self, run: RunHooks | None) -> Callable[[], bool]:
        """Asked before every turn: the Run was cancelled, or the deadline has passed."""
        deadline = self._clock.now() + timedelta(seconds=self._send_deadline_s)

        def should_stop() -> bool:
            if self._clock.now() >= deadline:
                logger.warning(
                    "group send stopped at its deadline", extra={"deadline": str(deadline)}
                )
                return True
            return run is not None and run.should_stop()

        return should_stop

    def check(self, tenant: str, group_id: str, req: LettaRequest) -> GroupRecord:
        """Refuse a send the group cannot take now, as `send` would (404, 400, 409, 422,
        413, and 409 while another send holds it), changing nothing."""
        group = self.prepare(tenant, group_id, req).group
        try:
            ensure_free(group, self._clock.now())
        except ConflictError:
            self._engine.lease_conflict(group)
            raise
        return group

    def prepare(self, tenant: str, group_id: str, req: LettaRequest) -> PreparedSend:
        """Everything a send checks before it takes the group, and its input records."""
        group = self._store.get(tenant, GroupRecord, group_id)
        if group is None:
            raise NotFoundError(f"Group not found: {group_id}")
        pattern = pattern_for(group.manager_type)
        pattern.check_send(group)
        speakers = group.agent_ids_with_manager()
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
            return PreparedSend(group, pattern, names, waiting, approvals[0], [])
        if waiting:
            raise ConflictError(
                f"Group {group_id} is paused: agent {waiting[0].id} waits for a decision "
                f"on the tool call(s) of message {waiting[0].pending_approval_id}; send an "
                "approval first."
            )
        inputs = self._inputs(req, [agents[a] for a in speakers], items, group_id)
        return PreparedSend(group, pattern, names, waiting, None, inputs)

    def _resume(self, send: GroupSend, agent: AgentRecord, approval: ApprovalCreate) -> None:
        """The paused agent gets the decision, runs (or refuses) the same tool call and
        finishes its turn; the pattern does not go on past it in this send."""
        options = TurnOptions(max_steps=send.request.max_steps, group_id=send.group.id)
        decided = self._engine.loop.approval_records(send.tenant, agent, approval, options)
        send.show(decided)
        turn = self._engine.continue_turn(send, agent.id, decided)
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
    ) -> list[LettaMessage]:
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
