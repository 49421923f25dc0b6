"""Building the MessageRecords a turn produces, stamped alike (sender, run, group).

Records are made unsaved (seq 0); the step writer numbers them when it saves them.
"""

from __future__ import annotations

from typing import Any

from core import ids
from core.llm import ChatResponse, ModelError, Reasoning, ToolCall
from core.ports import Clock
from core.records import AgentRecord, MessageRecord, Role
from core.runtime.turn import ToolResult, TurnOptions, replies_through_tool


class MessageFactory:
    """Makes the records of one turn; every record carries the turn's run and group."""

    def __init__(self, clock: Clock, options: TurnOptions) -> None:
        self._clock = clock
        self._run_id = options.run_id
        self._group_id = options.group_id
        self._send_key = options.send_key

    def _base(self, agent: AgentRecord, role: Role, step_id: str | None) -> dict[str, Any]:
        return {
            "id": ids.new_id(ids.MESSAGE),
            "created_at": self._clock.now(),
            "parent_id": agent.id,
            "seq": 0,
            "role": role,
            "name": agent.name,
            "sender_id": agent.id,
            "step_id": step_id,
            "run_id": self._run_id,
            "group_id": self._group_id,
            "send_key": self._send_key,
        }

    def assistant(
        self, agent: AgentRecord, response: ChatResponse, step_id: str, message_id: str
    ) -> MessageRecord:
        """The model's step; `message_id` is the id its streamed pieces already carried."""
        reasoning = response.reasoning
        text = response.text
        thinking_aloud = replies_through_tool(agent) and response.tool_calls
        if thinking_aloud and text and (reasoning is None or not reasoning.text):
            # Text beside a tool call of an agent that replies through send_message is its
            # inner thought, not its reply.
            reasoning = Reasoning(text=text, native=False)
            text = None
        record = MessageRecord(
            **self._base(agent, "assistant", step_id),
            text=text,
            reasoning=_reasoning_dict(reasoning),
            tool_calls=[
                {"id": c.id, "name": c.name, "arguments": c.arguments} for c in response.tool_calls
            ],
        )
        record.id = message_id
        return record

    def tool(
        self, agent: AgentRecord, call: ToolCall, result: ToolResult, step_id: str | None
    ) -> MessageRecord:
        return MessageRecord(
            **self._base(agent, "tool", step_id),
            text=result.text,
            tool_call_id=call.id,
            tool_name=call.name,
            tool_status=result.status,
            is_err=True if result.status == "error" else None,
        )

    def model_error(self, agent: AgentRecord, step_id: str, error: ModelError) -> MessageRecord:
        return MessageRecord(
            **self._base(agent, "assistant", step_id),
            text=f"The model call failed ({error.stop_reason}): {error.detail}",
            is_err=True,
        )

    def approval(self, agent: AgentRecord, approvals: list[dict[str, Any]]) -> MessageRecord:
        """A human's decision on pending tool calls."""
        return MessageRecord(**self._base(agent, "approval", None), approvals=approvals)


def _reasoning_dict(reasoning: Reasoning | None) -> dict[str, Any] | None:
    if reasoning is None:
        return None
    return {
        "text": reasoning.text,
        "native": reasoning.native,
        "signature": reasoning.signature,
        "redacted_data": reasoning.redacted_data,
        "omitted": reasoning.omitted,
    }
