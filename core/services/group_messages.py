"""Group messaging: send (any pattern), the transcript listing, and reset."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from core import ids
from core.errors import BadRequestError, ConflictError, NotFoundError
from core.groups import journal
from core.groups.busy import ensure_free, ensure_idle
from core.groups.engine import GroupEngine
from core.groups.pattern import GroupPattern
from core.groups.registry import pattern_for
from core.groups.send import Decision, GroupSend, SendCancelled
from core.observability import bind
from core.paging import PageRequest
from core.persistence.retry import not_replayable, retry_on_conflict
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store
from core.records import AgentRecord, GroupRecord, MessageRecord, TranscriptRecord
from core.runtime.agent_loop import TurnOptions
from core.runtime.inputs import input_records
from core.runtime.rendering import RenderOptions, render
from core.schemas.messages import (
    ApprovalCreate,
    LettaMessage,
    LettaRequest,
    LettaResponse,
    LettaStopReason,
    MessageCreate,
)
from core.services.agent_messages import render_options
from core.services.message_pages import page_of_messages
from core.services.streaming import ResponseStream

logger = logging.getLogger(__name__)

FORGET_WINDOW = 1000
"""A reset reads a member's history this many messages at a time."""

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
    baseline: dict[str, int]
    """Each speaker's next message seq as read (core.groups.journal)."""
    agents: dict[str, AgentRecord]
    """The speakers as read: their first turns start from these copies (no second read)."""


class RunHooks(Protocol):
    """What a Run doing a send wants of it: its messages as they are saved, tagged with
    its id, and a stop before the next turn once it is cancelled."""

    run_id: str

    def saved(self, records: list[MessageRecord]) -> None: ...

    def forget(self, message_ids: list[str]) -> None: ...

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
        key: str | None = None,
        resuming: bool = False,
    ) -> LettaResponse:
        """`key` (an idempotency key; a Run's id for a Run) makes the send resumable: sent
        again with the same key after an attempt that died, it goes on from the last step
        that attempt committed and answers as one uninterrupted send would. `resuming`: it
        must go on so (a Run's later attempt; see GroupEngine.open)."""
        with bind(tenant=tenant, group_id=group_id, run_id=run.run_id if run else None):
            response = self._send(tenant, group_id, req, emit, run, key, resuming)
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
        key: str | None,
        resuming: bool,
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
        paused = prepared.group.journal if prepared.approval is not None else None
        if paused is not None:  # the approval picks the paused send up where it stopped
            key = paused.key
        elif run is not None:
            key = run.run_id  # a Run's later attempt resumes under its id
        elif key is None:
            key = ids.new_id("send")  # journaled, so an approval can resume its pattern
        send = self._engine.open(
            tenant,
            prepared.group,
            req,
            names,
            emit=show if stream is not None or run is not None else None,
            on_delta=on_delta if wants_tokens else None,
            key=key,
            run_id=run.run_id if run is not None else None,
            baseline=prepared.baseline,
            resuming=resuming,
            inputs=prepared.inputs,
            paused=paused is not None,
        )
        send.agents = dict(prepared.agents)
        send.should_stop = self._stop_check(run)
        if stream is not None:
            send.replay_emit = stream.saved
        try:
            # Every speaker's memory in one read, for the whole send.
            block_ids = list(
                dict.fromkeys(b for a in prepared.agents.values() for b in a.block_ids)
            )
            if block_ids:
                send.blocks.get_many(self._store, tenant, block_ids)
            if run is not None and send.set_aside:
                run.forget(send.set_aside)  # an interrupted step of its dead attempt
            with not_replayable():
                if prepared.approval is not None:
                    self._decide(send, prepared, prepared.approval)
                else:
                    prepared.pattern.run(self._engine, send)
        except SendCancelled:
            send.stop_reason = "cancelled"
        except BaseException:
            send.failed = True  # its journal stays: the same key (or an approval) goes on
            raise
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
        baseline = {a: agents[a].next_message_seq for a in speakers}
        waiting = [agents[a] for a in speakers if agents[a].pending_approval_id]
        approvals = [m for m in items if isinstance(m, ApprovalCreate)]
        if approvals:
            if len(items) != 1 or not waiting:
                raise BadRequestError(
                    "An approval must be sent alone, to a group waiting for one."
                    if waiting
                    else f"Nothing in group {group_id} is waiting for an approval."
                )
            return PreparedSend(group, pattern, names, waiting, approvals[0], [], baseline, agents)
        if waiting:
            raise ConflictError(
                f"Group {group_id} is paused: agent {waiting[0].id} waits for a decision "
                f"on the tool call(s) of message {waiting[0].pending_approval_id}; send an "
                "approval first."
            )
        inputs = self._inputs(req, [agents[a] for a in speakers], items, group_id)
        return PreparedSend(group, pattern, names, waiting, None, inputs, baseline, agents)

    def _decide(self, send: GroupSend, prepared: PreparedSend, approval: ApprovalCreate) -> None:
        """The paused agent gets the decision, runs (or refuses) the same tool call and
        finishes its turn; then the pattern goes on as if it had never paused (its earlier
        steps replayed from the paused send's journal, not redone). Without that journal
        (a send paused before journals were kept), only the agent's turn goes on."""
        agent = prepared.waiting[0]
        position = journal.paused_at(send, agent.id) if send.resumed else None
        if position is None:
            send.replay = {}
            self._resume(send, agent, approval)
            return
        send.decision = Decision(position, agent.id, approval)
        # What the paused send did after the pause (its stop) is redone on the new path.
        send.replay = {p: entry for p, entry in send.replay.items() if p < position}
        prepared.pattern.run(self._engine, send)

    def _resume(self, send: GroupSend, agent: AgentRecord, approval: ApprovalCreate) -> None:
        """The paused agent gets the decision, runs (or refuses) the same tool call and
        finishes its turn; the pattern does not go on past it in this send."""
        options = TurnOptions(
            max_steps=send.request.max_steps, group_id=send.group.id, blocks=send.blocks
        )
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
        return page_of_messages(
            self._store,
            tenant,
            TranscriptRecord,
            group_id,
            page,
            options,
            group.transcript_start_seq,
        )

    def member_view(
        self,
        tenant: str,
        agent_id: str,
        group_id: str,
        page: PageRequest,
        options: RenderOptions,
    ) -> builtins.list[LettaMessage]:
        """`GET /v1/agents/{agent_id}/messages?group_id=`: the group's whole conversation,
        as every member holds it in Letta (here kept once, in the transcript); nothing for
        an agent that is not in the group."""
        group = self._store.get(tenant, GroupRecord, group_id)
        if group is None or agent_id not in group.agent_ids_with_manager():
            return []
        return self.list(tenant, group_id, page, options)

    def reset(self, tenant: str, group_id: str) -> None:
        """Clear the group's conversation, as Letta does: the transcript, and the group's
        messages in each member's history (and so its context). Each member keeps its
        messages from other groups and direct chats. 409 while a send runs."""
        cutoffs = self._clear_transcript(tenant, group_id)
        for agent_id, cutoff in cutoffs.items():
            self._forget_group(tenant, agent_id, group_id, cutoff)

    @retry_on_conflict("the group")
    def _clear_transcript(self, tenant: str, group_id: str) -> dict[str, int]:
        """One atomic write: from here the group shows and relays nothing said before.
        Returns each member's next message seq as of now: what the reset deletes lies
        below it (a send that starts once the group is free is not touched)."""
        uow = UnitOfWork(self._store, tenant, self._clock)
        group = uow.load(GroupRecord, group_id)
        ensure_idle(group, uow.now, "resetting its messages")
        members = uow.load_existing(AgentRecord, group.agent_ids_with_manager())
        waiting = [a.id for a in members if a.pending_approval_id]
        if waiting:
            raise ConflictError(
                f"Group {group_id} waits for a decision on a tool call of agent {waiting[0]}; "
                "send the approval (or deny it) before resetting its messages."
            )
        group.transcript_start_seq = group.next_transcript_seq
        group.seen = {}
        group.journal = None
        uow.touch(group)
        uow.commit()
        return {a.id: a.next_message_seq for a in members}

    def _forget_group(self, tenant: str, agent_id: str, group_id: str, cutoff: int) -> None:
        """Delete the member's messages of the group below `cutoff`, a store batch at a
        time (a reset that stops midway is finished by the next one: what is left still
        carries the group)."""
        batch = max(1, self._store.limits.max_changes_per_write)
        after = 0
        while True:
            window = self._store.children(
                tenant, MessageRecord, agent_id, limit=FORGET_WINDOW, after_seq=after
            )
            gone = [m for m in window if m.group_id == group_id and m.seq < cutoff]
            for start in range(0, len(gone), batch):
                uow = UnitOfWork(self._store, tenant, self._clock)
                for message in gone[start : start + batch]:
                    uow.remove(uow.track(MessageRecord, message))
                uow.commit()
            if len(window) < FORGET_WINDOW or window[-1].seq >= cutoff:
                return
            after = window[-1].seq
