"""Async sends: a send body answered at once with a Run that does the send in the background.

The run executes the same code as the synchronous send (checked the same way before it is
accepted), its messages tagged with the run, so `GET /v1/runs/{id}/messages` lists them and
`POST /v1/runs/{id}/stream` follows them; cancelling the run stops it between steps.
"""

from __future__ import annotations

from core.errors import InvalidInputError
from core.records import RunRecord
from core.runtime.turn import TurnResult
from core.schemas.messages import LettaAsyncRequest, LettaRequest
from core.schemas.runs import Run
from core.services.agent_messages import AgentMessageService
from core.services.run_cancellation import RunCancellation
from core.services.run_views import run_to_wire
from core.services.runs import RunService

AGENT_SEND = "agent_send"
"""The job kind of an async agent send: `{"kind": "agent_send", "request": <body>}`."""


class AsyncSends:
    def __init__(
        self,
        runs: RunService,
        cancellation: RunCancellation,
        agent_messages: AgentMessageService,
    ) -> None:
        self._runs = runs
        self._cancellation = cancellation
        self._agent_messages = agent_messages
        runs.register(AGENT_SEND, self._agent_send)

    def agent(self, tenant: str, agent_id: str, req: LettaAsyncRequest) -> Run:
        """Check the send as the synchronous route would, then start it as a Run."""
        if req.callback_url is not None:
            raise InvalidInputError(
                "callback_url is not supported yet: poll GET /v1/runs/{run_id} or follow "
                "POST /v1/runs/{run_id}/stream instead.",
                ("body", "callback_url"),
            )
        self._agent_messages.check(tenant, agent_id, req)
        body = req.model_dump(mode="json", exclude={"callback_url"}, exclude_unset=True)
        run = self._runs.create(tenant, agent_id, {"kind": AGENT_SEND, "request": body})
        self._runs.start(tenant, run)
        return run_to_wire(run)

    def _agent_send(self, tenant: str, run: RunRecord) -> TurnResult:
        req = LettaRequest.model_validate(run.job["request"])
        return self._agent_messages.run(
            tenant,
            run.agent_id,
            req,
            run_id=run.id,
            should_stop=lambda: self._cancellation.is_cancelled(tenant, run.id),
        )
