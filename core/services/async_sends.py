"""Async sends: a send body answered at once with a Run that does the send in the background.

The run executes the same code as the synchronous send (checked the same way before it is
accepted), its messages tagged with the run, so `GET /v1/runs/{id}/messages` lists them and
`POST /v1/runs/{id}/stream` follows them; cancelling the run stops it between steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.errors import ConflictError, InvalidInputError
from core.ports import Clock, Store
from core.records import MessageRecord, RunRecord
from core.runtime.turn import TurnResult
from core.runtime.usage import UsageTally
from core.schemas.messages import LettaAsyncRequest, LettaRequest
from core.schemas.runs import Run
from core.services.agent_messages import AgentMessageService
from core.services.group_messages import GroupMessageService
from core.services.run_callbacks import RunCallbacks
from core.services.run_cancellation import RunCancellation
from core.services.run_log import RunLog
from core.services.run_views import run_to_wire
from core.services.runs import RetryLater, RunService

AGENT_SEND = "agent_send"
"""The job kind of an async agent send: `{"kind": "agent_send", "request": <body>}`."""
GROUP_SEND = "group_send"
"""The job kind of an async group send: `{"kind": "group_send", "group_id", "request"}`."""


@dataclass
class SendOutcome:
    """How a group send Run ended (its messages are in its log, not a range)."""

    stop_reason: str
    usage: UsageTally
    messages: list[MessageRecord] = field(default_factory=list)


@dataclass
class _RunOfSend:
    """core.services.group_messages.RunHooks for one Run: its log and its cancellation."""

    run_id: str
    log: RunLog
    cancelled: Callable[[], bool]

    def saved(self, records: list[MessageRecord]) -> None:
        self.log.append(records)

    def forget(self, message_ids: list[str]) -> None:
        self.log.forget(set(message_ids))

    def should_stop(self) -> bool:
        return self.cancelled()


class AsyncSends:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        runs: RunService,
        cancellation: RunCancellation,
        agent_messages: AgentMessageService,
        group_messages: GroupMessageService,
        callbacks: RunCallbacks,
    ) -> None:
        self._store = store
        self._clock = clock
        self._runs = runs
        self._cancellation = cancellation
        self._agent_messages = agent_messages
        self._group_messages = group_messages
        self._callbacks = callbacks
        runs.register(AGENT_SEND, self._agent_send)
        runs.register(GROUP_SEND, self._group_send, resumable=True)

    def agent(self, tenant: str, agent_id: str, req: LettaAsyncRequest) -> Run:
        """Check the send as the synchronous route would, then start it as a Run (a send
        to an agent with sleeptime enabled goes through its group, as the sync route)."""
        group_id = self._agent_messages.sleeptime_group(tenant, agent_id)
        if group_id is not None:
            return self.group(tenant, group_id, req)
        self._check_callback(req)
        self._agent_messages.check(tenant, agent_id, req)
        job = {"kind": AGENT_SEND, "request": _body(req)}
        run = self._runs.create(tenant, agent_id, job, callback_url=req.callback_url)
        self._runs.start(tenant, run)
        return run_to_wire(run)

    def group(self, tenant: str, group_id: str, req: LettaAsyncRequest) -> Run:
        """Check the send as the synchronous route would (busy included), then start it as
        a Run on the group's manager (its first member when it has none)."""
        self._check_callback(req)
        group = self._group_messages.check(tenant, group_id, req)
        speaker = group.manager_agent_id or group.agent_ids[0]
        job = {"kind": GROUP_SEND, "group_id": group_id, "request": _body(req)}
        metadata = {"group_id": group_id, "manager_type": group.manager_type}
        run = self._runs.create(
            tenant, speaker, job, metadata, logged=True, callback_url=req.callback_url
        )
        self._runs.start(tenant, run)
        return run_to_wire(run)

    def _check_callback(self, req: LettaAsyncRequest) -> None:
        """422 for a callback_url the finished run may not be POSTed to."""
        if req.callback_url is None:
            return
        reason = self._callbacks.refusal(req.callback_url)
        if reason is not None:
            raise InvalidInputError(f"callback_url: {reason}", ("body", "callback_url"))

    def _group_send(self, tenant: str, run: RunRecord) -> SendOutcome:
        req = LettaRequest.model_validate(run.job["request"])
        hooks = _RunOfSend(
            run.id,
            RunLog(self._store, self._clock, tenant, run.id),
            lambda: self._cancellation.is_cancelled(tenant, run.id),
        )
        resuming = run.attempts > 1  # its worker died: go on from its last committed turn
        try:
            answer = self._group_messages.send(
                tenant, str(run.job["group_id"]), req, run=hooks, resuming=resuming
            )
        except ConflictError as busy:
            if resuming and type(busy) is ConflictError:  # another send holds the group now
                raise RetryLater(str(busy)) from busy
            raise
        usage = answer.usage
        tally = UsageTally("", "", usage.step_count, usage.prompt_tokens, usage.completion_tokens)
        return SendOutcome(answer.stop_reason.stop_reason, tally)

    def _agent_send(self, tenant: str, run: RunRecord) -> TurnResult:
        req = LettaRequest.model_validate(run.job["request"])
        return self._agent_messages.run(
            tenant,
            run.agent_id,
            req,
            run_id=run.id,
            should_stop=lambda: self._cancellation.is_cancelled(tenant, run.id),
        )


def _body(req: LettaAsyncRequest) -> dict[str, Any]:
    """The send body a Run replays (callback_url is the route's, not the send's)."""
    return req.model_dump(mode="json", exclude={"callback_url"}, exclude_unset=True)
