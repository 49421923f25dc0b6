"""One-agent messaging: POST and GET /v1/agents/{agent_id}/messages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from core.errors import BadRequestError, ConflictError, NotFoundError
from core.groups.catch_up import give_unseen
from core.paging import PageRequest
from core.persistence.retry import not_replayable
from core.ports import Clock, Store
from core.records import AgentRecord, MessageRecord
from core.runtime.agent_loop import AgentLoop, TurnOptions, TurnResult
from core.runtime.inputs import input_records
from core.runtime.rendering import RenderOptions, render
from core.runtime.usage import RequestUsage
from core.schemas.messages import (
    ApprovalCreate,
    LettaMessage,
    LettaRequest,
    LettaResponse,
    LettaStopReason,
    MessageCreate,
)
from core.services.message_pages import page_of_messages
from core.services.sleeptime_agents import sleeptime_group_of
from core.services.streaming import ResponseStream

Emit = Callable[[list[LettaMessage]], None]


class GroupSends(Protocol):
    """core.services.group_messages.GroupMessageService, as far as the agent route needs
    it: a send to a group (kept a protocol, since that module builds on this one)."""

    def send(
        self, tenant: str, group_id: str, req: LettaRequest, emit: Emit | None = None
    ) -> LettaResponse: ...


def render_options(req: LettaRequest) -> RenderOptions:
    return RenderOptions(
        use_assistant_message=req.use_assistant_message,
        assistant_message_tool_name=req.assistant_message_tool_name,
        assistant_message_tool_kwarg=req.assistant_message_tool_kwarg,
        include_return_message_types=(
            tuple(req.include_return_message_types)
            if req.include_return_message_types is not None
            else None
        ),
        include_compaction_messages=req.include_compaction_messages,
    )


class AgentMessageService:
    def __init__(
        self, store: Store, clock: Clock, loop: AgentLoop, groups: GroupSends | None = None
    ) -> None:
        """`groups`: where a send to an agent with sleeptime enabled goes (its group)."""
        self._store = store
        self._clock = clock
        self._loop = loop
        self._groups = groups

    def send(
        self,
        tenant: str,
        agent_id: str,
        req: LettaRequest,
        emit: Emit | None = None,
    ) -> LettaResponse:
        """One turn of the agent; an agent made with `enable_sleeptime` answers through its
        sleeptime group instead, as Letta's agent route does, so its sleeptime agents run
        on the group's schedule (listed in `usage.run_ids`)."""
        agent = self._load(tenant, agent_id)
        group_id = self.sleeptime_group(tenant, agent)
        if group_id is not None and self._groups is not None:
            return self._groups.send(tenant, group_id, req, emit)
        agent, prelude = self.prepare(tenant, agent_id, req, agent=agent)
        news = self.catch_up(tenant, agent, prelude)
        own_inputs = {r.id for r in [*news, *prelude] if r.role in ("user", "system")}
        rendering = render_options(req)
        options = replace(self.options(req), given=tuple(news))
        if emit is not None:
            stream = ResponseStream(emit, rendering, self._clock)

            def on_step(records: list[MessageRecord]) -> None:
                stream.saved([r for r in records if r.id not in own_inputs])

            def on_delta(message_id: str, kind: str, text: str) -> None:
                stream.piece(message_id, kind, text, name=agent.name, sender_id=agent.id)

            wants_tokens = getattr(req, "stream_tokens", False)
            options = replace(options, on_step=on_step, on_delta=on_delta if wants_tokens else None)
        with not_replayable():
            result = self._loop.run(tenant, agent_id, prelude, options)
        usage = RequestUsage()
        usage.by_agent[agent_id] = result.usage
        produced = [r for r in result.messages if r.id not in own_inputs]
        return LettaResponse(
            messages=render(produced, rendering),
            stop_reason=LettaStopReason(stop_reason=result.stop_reason),
            usage=usage.to_wire(),
        )

    def run(
        self,
        tenant: str,
        agent_id: str,
        req: LettaRequest,
        *,
        run_id: str,
        should_stop: Callable[[], bool],
    ) -> TurnResult:
        """The same turn as `send`, as a Run executes it: every message tagged with the run,
        stopping between steps once the run is cancelled."""
        agent, prelude = self.prepare(tenant, agent_id, req)
        news = self.catch_up(tenant, agent, prelude, run_id=run_id)
        for record in prelude:
            record.run_id = run_id
        options = replace(
            self.options(req), run_id=run_id, should_stop=should_stop, given=tuple(news)
        )
        with not_replayable():
            return self._loop.run(tenant, agent_id, prelude, options)

    def sleeptime_group(self, tenant: str, agent: AgentRecord | str) -> str | None:
        """The sleeptime group a send to this agent goes through, if it has one."""
        if isinstance(agent, str):
            agent = self._load(tenant, agent)
        return sleeptime_group_of(self._store, tenant, agent)

    def prepare(
        self, tenant: str, agent_id: str, req: LettaRequest, *, agent: AgentRecord | None = None
    ) -> tuple[AgentRecord, list[MessageRecord]]:
        """Check the send and build its input records: the caller's messages, or the
        answer to a pending approval (which runs the approved tool calls). `agent`: the
        record when the caller has just read it."""
        agent, approval = self.check(tenant, agent_id, req, agent=agent)
        if approval is not None:
            records = self._loop.approval_records(tenant, agent, approval, self.options(req))
            return agent, records
        return agent, self._inputs(agent, req)

    def catch_up(
        self,
        tenant: str,
        agent: AgentRecord,
        prelude: list[MessageRecord],
        *,
        run_id: str | None = None,
    ) -> list[MessageRecord]:
        """Give the agent what its groups said since it last spoke there (as Letta's members
        hold every group message), saved before its own inputs; returns the copies, which
        the turn shows as inputs. Not before an approval's answer: that must follow the
        tool calls it answers; the news waits for the next send."""
        if any(r.role == "approval" for r in prelude):
            return []
        return give_unseen(self._store, self._clock, tenant, agent, run_id=run_id)[1]

    def check(
        self, tenant: str, agent_id: str, req: LettaRequest, *, agent: AgentRecord | None = None
    ) -> tuple[AgentRecord, ApprovalCreate | None]:
        """Refuse a send the agent cannot take now (404, 400, 409, 422, 413), changing
        nothing; returns the agent and the approval the send carries, if any."""
        agent = agent or self._load(tenant, agent_id)
        items = req.as_messages()
        approvals = [m for m in items if isinstance(m, ApprovalCreate)]
        if approvals:
            if len(items) != 1:
                raise BadRequestError("An approval must be sent alone, as the only message.")
            if agent.pending_approval_id is None:
                raise BadRequestError(f"Agent {agent.id} has no tool call waiting for approval.")
            return agent, approvals[0]
        if agent.pending_approval_id is not None:
            raise ConflictError(
                f"Agent {agent_id} is waiting for a decision on the tool call(s) of "
                f"message {agent.pending_approval_id}; send an approval first."
            )
        self._inputs(agent, req)
        return agent, None

    def _load(self, tenant: str, agent_id: str) -> AgentRecord:
        agent = self._store.get(tenant, AgentRecord, agent_id)
        if agent is None:
            raise NotFoundError(f"Agent not found: {agent_id}")
        return agent

    def _inputs(self, agent: AgentRecord, req: LettaRequest) -> list[MessageRecord]:
        creates = [m for m in req.as_messages() if isinstance(m, MessageCreate)]
        handle = req.override_model or agent.model
        return input_records(creates, handle, self._clock, limits=self._store.limits)

    @staticmethod
    def options(req: LettaRequest) -> TurnOptions:
        return TurnOptions(
            max_steps=req.max_steps,
            enable_thinking=req.thinking_enabled,
            override_model=req.override_model,
        )

    def list(
        self, tenant: str, agent_id: str, page: PageRequest, options: RenderOptions
    ) -> list[LettaMessage]:
        if self._store.get(tenant, AgentRecord, agent_id) is None:
            raise NotFoundError(f"Agent not found: {agent_id}")
        return page_of_messages(self._store, tenant, MessageRecord, agent_id, page, options)
