"""Wire models of messages: request bodies of the send routes, the typed Letta messages
responses are made of, stop reasons and usage."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_serializer,
    model_validator,
)

from core.lazy_model import LazyModel
from core.schemas.agents import StopReasonType
from core.schemas.content import ContentPart, TextContent, UserContentPart

MessageType = Literal[
    "system_message",
    "user_message",
    "assistant_message",
    "reasoning_message",
    "hidden_reasoning_message",
    "tool_call_message",
    "tool_return_message",
    "approval_request_message",
    "approval_response_message",
]


# -- request bodies ---------------------------------------------------------------------

MAX_MESSAGES_PER_REQUEST = 50
MAX_STEPS = 100
"""Model steps one agent may take in one turn of a send (Letta's default is 50)."""


class MessageCreate(LazyModel):
    type: Literal["message"] | None = "message"
    role: Literal["user", "system", "assistant"]
    content: str | list[ContentPart]
    name: str | None = None
    otid: str | None = None
    sender_id: str | None = None
    batch_item_id: str | None = None
    group_id: str | None = None


class ApprovalDecision(LazyModel):
    type: Literal["approval"] = "approval"
    tool_call_id: str
    approve: bool
    reason: str | None = None


class ToolReturn(LazyModel):
    type: Literal["tool"] = "tool"
    tool_call_id: str
    status: Literal["success", "error"]
    tool_return: str
    stdout: list[str] | None = None
    stderr: list[str] | None = None


def _approval_kind(item: Any) -> str:
    """`type` may be left out (Letta defaults it): a tool_return field means a ToolReturn."""
    if isinstance(item, dict):
        return item.get("type") or ("tool" if "tool_return" in item else "approval")
    return getattr(item, "type", "approval")


Approval = Annotated[
    Annotated[ApprovalDecision, Tag("approval")] | Annotated[ToolReturn, Tag("tool")],
    Discriminator(_approval_kind),
]


class ApprovalCreate(LazyModel):
    # An item with a role is a MessageCreate (see _message_kind): saying so in the schema
    # keeps the items' oneOf exact.
    model_config = ConfigDict(json_schema_extra={"not": {"required": ["role"]}})

    type: Literal["approval"] = "approval"
    approvals: list[Approval] | None = None
    approve: bool | None = None
    approval_request_id: str | None = None
    reason: str | None = None
    group_id: str | None = None


def _is_approval(item: Any) -> bool:
    if isinstance(item, dict):
        return item.get("type") == "approval" or (
            "role" not in item and ("approvals" in item or "approve" in item)
        )
    return isinstance(item, ApprovalCreate)


def _message_kind(item: Any) -> str:
    """An item is an approval only when it says so (`type`, or approval fields without a
    role); anything else is read as a MessageCreate, so a bad or missing `role` is a 422
    naming it instead of an empty approval."""
    return "approval" if _is_approval(item) else "message"


SendItem = Annotated[
    Annotated[MessageCreate, Tag("message")] | Annotated[ApprovalCreate, Tag("approval")],
    Discriminator(_message_kind),
]


ONE_SOURCE: dict[str, Any] = {
    "oneOf": [
        {
            "required": ["messages"],
            "properties": {"messages": {"type": "array"}, "input": {"type": "null"}},
        },
        {
            "required": ["input"],
            "properties": {
                "input": {"type": ["string", "array"]},
                "messages": {"type": "null"},
            },
        },
    ]
}
"""The one-of rule of a send body, as JSON Schema: `messages` or `input`, never both."""


class LettaRequest(LazyModel):
    """Body of the send routes: exactly one of `messages` or `input`."""

    model_config = ConfigDict(json_schema_extra=ONE_SOURCE)

    messages: list[SendItem] | None = Field(None, min_length=1, max_length=MAX_MESSAGES_PER_REQUEST)
    input: str | list[ContentPart] | None = None
    max_steps: int = Field(50, ge=1, le=MAX_STEPS)
    use_assistant_message: bool = True
    assistant_message_tool_name: str = "send_message"
    assistant_message_tool_kwarg: str = "message"
    include_return_message_types: list[MessageType] | None = None
    enable_thinking: bool | str = True
    override_model: str | None = None
    include_compaction_messages: bool = False

    @model_validator(mode="after")
    def _exactly_one_source(self) -> "LettaRequest":
        if (self.messages is None) == (self.input is None):
            raise ValueError("Provide exactly one of 'messages' or 'input'.")
        return self

    @property
    def thinking_enabled(self) -> bool:
        value = self.enable_thinking
        return value if isinstance(value, bool) else value.strip().lower() not in {"false", "0"}

    def as_messages(self) -> list[MessageCreate | ApprovalCreate]:
        """`input` is sugar for one user message."""
        if self.messages is not None:
            return self.messages
        return [MessageCreate(role="user", content=self.input or "")]


class LettaStreamingRequest(LettaRequest):
    streaming: bool = False
    stream_tokens: bool = False
    include_pings: bool = False
    background: bool = False


class LettaAsyncRequest(LettaRequest):
    """Body of the async send routes: a send body, plus where to report the finished run."""

    callback_url: str | None = None


# -- typed Letta messages ---------------------------------------------------------------


class LettaMessageBase(LazyModel):
    id: str
    date: datetime
    name: str | None = None
    otid: str | None = None
    sender_id: str | None = None
    step_id: str | None = None
    is_err: bool | None = None
    seq_id: int | None = None
    run_id: str | None = None

    @field_serializer("date")
    def _iso(self, value: datetime) -> str:
        return value.isoformat()


class SystemMessage(LettaMessageBase):
    message_type: Literal["system_message"] = "system_message"
    content: str


class UserMessage(LettaMessageBase):
    message_type: Literal["user_message"] = "user_message"
    content: str | list[UserContentPart]


class ReasoningMessage(LettaMessageBase):
    message_type: Literal["reasoning_message"] = "reasoning_message"
    source: Literal["reasoner_model", "non_reasoner_model"] = "non_reasoner_model"
    reasoning: str
    signature: str | None = None


class HiddenReasoningMessage(LettaMessageBase):
    message_type: Literal["hidden_reasoning_message"] = "hidden_reasoning_message"
    state: Literal["redacted", "omitted"]
    hidden_reasoning: str | None = None


class ToolCallWire(LazyModel):
    name: str
    arguments: str
    tool_call_id: str


class ToolCallMessage(LettaMessageBase):
    message_type: Literal["tool_call_message"] = "tool_call_message"
    tool_call: ToolCallWire
    tool_calls: list[ToolCallWire] | None = None


class ToolReturnMessage(LettaMessageBase):
    message_type: Literal["tool_return_message"] = "tool_return_message"
    tool_return: str
    status: Literal["success", "error"]
    tool_call_id: str
    stdout: list[str] | None = None
    stderr: list[str] | None = None
    tool_returns: list[ToolReturn] | None = None


class AssistantMessage(LettaMessageBase):
    message_type: Literal["assistant_message"] = "assistant_message"
    content: str | list[TextContent]


class ApprovalRequestMessage(LettaMessageBase):
    message_type: Literal["approval_request_message"] = "approval_request_message"
    tool_call: ToolCallWire
    tool_calls: list[ToolCallWire] | None = None


class ApprovalResponseMessage(LettaMessageBase):
    message_type: Literal["approval_response_message"] = "approval_response_message"
    approvals: list[Approval] | None = None
    approve: bool | None = None
    approval_request_id: str | None = None
    reason: str | None = None


class SummaryMessage(LettaMessageBase):
    message_type: Literal["summary_message"] = "summary_message"
    summary: str
    compaction_stats: dict[str, Any] | None = None


class EventMessage(LettaMessageBase):
    message_type: Literal["event_message"] = "event_message"
    event_type: Literal["compaction"] = "compaction"
    event_data: dict[str, Any]


LettaMessage = Annotated[
    SystemMessage
    | UserMessage
    | ReasoningMessage
    | HiddenReasoningMessage
    | ToolCallMessage
    | ToolReturnMessage
    | AssistantMessage
    | ApprovalRequestMessage
    | ApprovalResponseMessage
    | SummaryMessage
    | EventMessage,
    Field(discriminator="message_type"),
]

# -- response envelope ------------------------------------------------------------------


class LettaStopReason(LazyModel):
    message_type: Literal["stop_reason"] = "stop_reason"
    stop_reason: StopReasonType


class AgentUsage(LazyModel):
    """One agent's share of a request's usage (`usage.by_agent`, our addition)."""

    agent_id: str
    name: str
    step_count: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class LettaUsageStatistics(LazyModel):
    message_type: Literal["usage_statistics"] = "usage_statistics"
    completion_tokens: int = 0
    prompt_tokens: int = 0
    total_tokens: int = 0
    step_count: int = 0
    run_ids: list[str] | None = None
    cached_input_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    by_agent: list[AgentUsage] | None = None


class LettaResponse(LazyModel):
    messages: list[LettaMessage]
    stop_reason: LettaStopReason
    usage: LettaUsageStatistics
