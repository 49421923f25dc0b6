"""Wire models of a run's steps (Letta's `Step`, and the `Message`s a step made), as
GET /v1/runs/{run_id}/steps lists them."""

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from core.lazy_model import LazyModel
from core.schemas.agents import StopReasonType
from core.schemas.content import ContentPart

MessageRole = Literal["assistant", "user", "tool", "function", "system", "approval"]
StepStatus = Literal["pending", "success", "failed", "cancelled"]


class ToolCallFunction(LazyModel):
    name: str
    arguments: str


class ToolCallOut(LazyModel):
    """OpenAI's ChatCompletionMessageFunctionToolCall, as Letta's Message holds calls."""

    id: str
    type: Literal["function"] = "function"
    function: ToolCallFunction


class ToolReturnInfo(LazyModel):
    status: Literal["success", "error"]
    stdout: list[str] | None = None
    stderr: list[str] | None = None


class StepMessage(LazyModel):
    """Letta's `Message`: a stored message as the model saw it (not the typed
    LettaMessages the message routes render)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    created_at: datetime
    updated_at: datetime | None = None
    created_by_id: str | None = None
    last_updated_by_id: str | None = None
    agent_id: str | None = None
    model: str | None = None
    role: MessageRole
    content: list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCallOut] | None = None
    tool_call_id: str | None = None
    step_id: str | None = None
    otid: str | None = None
    tool_returns: list[ToolReturnInfo] | None = None
    group_id: str | None = None
    sender_id: str | None = None
    batch_item_id: str | None = None
    is_err: bool | None = None
    approval_request_id: str | None = None
    approve: bool | None = None
    denial_reason: str | None = None


class Step(LazyModel):
    """One model call of an agent and what it made."""

    model_config = ConfigDict(extra="forbid")

    id: str
    origin: str | None = None
    organization_id: str | None = None
    provider_id: str | None = None
    job_id: str | None = None
    agent_id: str | None = None
    provider_name: str | None = None
    provider_category: str | None = None
    model: str | None = None
    model_endpoint: str | None = None
    context_window_limit: int | None = None
    completion_tokens: int | None = None
    prompt_tokens: int | None = None
    total_tokens: int | None = None
    completion_tokens_details: dict[str, object] | None = None
    stop_reason: StopReasonType | None = None
    tags: list[str] = Field(default_factory=list)
    tid: str | None = None
    trace_id: str | None = None
    messages: list[StepMessage] = Field(default_factory=list)
    feedback: Literal["positive", "negative"] | None = None
    project_id: str | None = None
    error_type: str | None = None
    error_data: dict[str, object] | None = None
    status: StepStatus | None = "pending"
