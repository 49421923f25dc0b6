"""Wire model of a Run (Letta's `Run`), as GET /v1/runs/{run_id} shows it."""

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import ConfigDict

from core.ids import RunId
from core.lazy_model import LazyModel
from core.schemas.agents import StopReasonType

RunStatusType = Literal["created", "running", "completed", "failed", "cancelled"]
STOP_REASONS: frozenset[str] = frozenset(get_args(StopReasonType))


class Run(LazyModel):
    """Only properties of Letta's `Run` (its schema forbids any other)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    agent_id: str
    status: RunStatusType = "created"
    created_at: datetime
    completed_at: datetime | None = None
    stop_reason: StopReasonType | None = None
    background: bool | None = None
    metadata: dict[str, Any] | None = None
    total_duration_ns: int | None = None
    callback_url: str | None = None
    callback_sent_at: datetime | None = None
    callback_status_code: int | None = None
    callback_error: str | None = None


class RunUsage(LazyModel):
    """GET /v1/runs/{run_id}/usage (Letta's `UsageStatistics`)."""

    completion_tokens: int = 0
    prompt_tokens: int = 0
    total_tokens: int = 0


class CancelRunsRequest(LazyModel):
    """Letta's CancelAgentRunRequest: the runs to cancel; none named means every run not
    finished yet."""

    run_ids: list[RunId] | None = None
