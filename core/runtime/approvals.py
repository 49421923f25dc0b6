"""Answering a pending approval: the human's decision, then one tool result per call.

The pending request is read by its key (the agent and its seq), a consistent read, so a
decision sent right after the pause always finds it.
"""

from __future__ import annotations

from core.errors import BadRequestError
from core.llm import ToolCall
from core.message_parts import is_part_of
from core.ports import Clock, Store
from core.records import AgentRecord, MessageRecord
from core.runtime.message_factory import MessageFactory
from core.runtime.tool_execution import ToolExecutor
from core.runtime.turn import ToolResult, TurnOptions
from core.schemas.messages import ApprovalCreate, ToolReturn


class Approvals:
    def __init__(self, store: Store, clock: Clock, tools: ToolExecutor) -> None:
        self._store = store
        self._clock = clock
        self._tools = tools

    def pending_request(self, tenant: str, agent: AgentRecord) -> MessageRecord:
        """The assistant message whose calls wait for a decision."""
        if agent.pending_approval_id is None:
            raise BadRequestError(f"Agent {agent.id} has no tool call waiting for approval.")
        if agent.pending_approval_seq is not None:
            request = self._store.get_child(
                tenant, MessageRecord, agent.id, agent.pending_approval_seq
            )
        else:
            # Paused before the seq was kept: only the id index can find it. Remove once no
            # stored agent lacks pending_approval_seq while it waits.
            request = self._store.find_child(tenant, MessageRecord, agent.pending_approval_id)
        if request is None or request.id != agent.pending_approval_id:
            raise BadRequestError("The pending approval request no longer exists.")
        return request

    def records(
        self, tenant: str, agent: AgentRecord, approval: ApprovalCreate, options: TurnOptions
    ) -> list[MessageRecord]:
        """The records that answer a pending approval: the decision, then one tool result per
        call (run if approved, an error if denied, or the caller's own result)."""
        request = self.pending_request(tenant, agent)
        asked = approval.approval_request_id
        if asked is not None and not is_part_of(asked, request.id):
            raise BadRequestError(
                f"approval_request_id {approval.approval_request_id!r} is not the pending "
                f"request {request.id!r}."
            )
        factory = MessageFactory(self._clock, options)
        decisions = {a.tool_call_id: a for a in approval.approvals or []}
        records = [
            factory.approval(
                agent,
                [a.model_dump(mode="json") for a in approval.approvals or []]
                or [
                    {
                        "type": "approval",
                        "tool_call_id": c["id"],
                        "approve": approval.approve,
                        "reason": approval.reason,
                    }
                    for c in request.tool_calls
                ],
            )
        ]
        for call in request.tool_calls:
            tool_call = ToolCall(call["id"], call["name"], call["arguments"])
            decision = decisions.get(call["id"])
            if call["id"] not in request.approval_call_ids:
                result = self._tools.check_and_run(tenant, agent, tool_call, options)
            elif isinstance(decision, ToolReturn):
                result = ToolResult(decision.tool_return, decision.status)
            elif decision is None and approval.approve is None:
                raise BadRequestError(f"No decision given for tool call {call['id']!r}.")
            elif decision.approve if decision is not None else approval.approve:
                result = self._tools.check_and_run(tenant, agent, tool_call, options)
            else:
                reason = (decision.reason if decision is not None else approval.reason) or ""
                result = ToolResult.error(f"The user denied this tool call. {reason}".strip())
            records.append(factory.tool(agent, tool_call, result, None))
        return records
