"""The model port: one provider-neutral chat turn with tools, and the errors it can raise.

Every provider adapter (infra/providers) translates this to its own API and back, so the
agent loop never sees a provider's format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from core.schemas.agents import StopReasonType

ModelTask = Literal["respond", "summarize", "choose", "remember"]
"""What a model call is for: answer the conversation, summarise it, pick one of the
request's `choices`, or write what it learned into memory. Real providers send the same
request whatever the task; the offline model plays each task differently."""


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str
    """The arguments as the model produced them: a JSON object text, possibly malformed."""


@dataclass(frozen=True)
class Image:
    """An image part of a user message: a URL, or base64 data with its media type."""

    url: str | None = None
    data: str | None = None
    media_type: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Reasoning:
    """What the model thought before answering.

    native: produced by a reasoning model (extended thinking); otherwise prompted inner
    thoughts. redacted_data: the provider returned it encrypted (Anthropic redacted
    thinking). omitted: the provider reasoned but returned nothing of it.
    """

    text: str = ""
    native: bool = False
    signature: str | None = None
    redacted_data: str | None = None
    omitted: bool = False


@dataclass(frozen=True)
class ChatMessage:
    """One conversation item in provider-neutral form.

    user: text and images; `name` is the speaker when relayed from another agent.
    assistant: text and/or tool calls, with the reasoning that preceded them.
    tool: the result of one tool call.
    """

    role: Literal["user", "assistant", "tool"]
    text: str | None = None
    images: tuple[Image, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: Reasoning | None = None
    tool_call_id: str | None = None
    tool_name: str | None = None
    is_error: bool = False
    name: str | None = None


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ChatRequest:
    provider: str
    model: str
    system: str
    messages: tuple[ChatMessage, ...]
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: Literal["auto", "required", "none"] = "auto"
    forced_tool: str | None = None
    """The one tool the model must call now (a tool rule leaves no other choice): providers
    name it in their tool choice, as Letta does, instead of only requiring some tool."""
    thinking_argument: bool = False
    """Legacy agents (memgpt_agent, memgpt_v2_agent) think aloud in a `thinking` argument
    of every tool call and must always call a tool; providers without native reasoning for
    them (OpenAI-compatible) add the argument and unpack it into `Reasoning`."""
    enable_thinking: bool = False
    max_tokens: int | None = None
    temperature: float | None = None
    task: ModelTask = "respond"
    choices: tuple[str, ...] = ()
    """The names a "choose" task picks from (a dynamic group's candidate speakers)."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Facts about the caller (agent id, name, type) for the offline model and for logs;
    real providers ignore it."""


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_input_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ChatResponse:
    text: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: Reasoning | None = None
    usage: Usage = field(default_factory=Usage)
    finish_reason: Literal["stop", "tool_calls", "max_tokens"] = "stop"


class ModelError(Exception):
    """A model call that failed. `stop_reason` is the Letta stop reason it ends a step with;
    `retryable` errors are retried inside the adapter's budget before they surface."""

    stop_reason: StopReasonType = "llm_api_error"
    retryable: bool = False

    def __init__(
        self, detail: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.retry_after = retry_after
        """Seconds the provider asked us to wait (Retry-After), honoured by the retrier."""


class ModelTimeoutError(ModelError):
    retryable = True


class ModelRateLimitError(ModelError):
    retryable = True


class ModelServerError(ModelError):
    retryable = True


class ModelRequestError(ModelError):
    """The provider refused the request (4xx other than 429): bad key, bad input."""


class ModelResponseError(ModelError):
    """The provider answered with something that is not a usable chat response."""

    stop_reason = "invalid_llm_response"


class ModelClient(Protocol):
    def complete(self, request: ChatRequest) -> ChatResponse: ...


OnDelta = Callable[[str, str], None]
"""`on_delta(kind, text)`: a piece of the answer as it arrives; kind is "text" or
"reasoning"."""


class StreamingModelClient(Protocol):
    """A client that can also hand out the answer piece by piece while it is produced.

    Returns the same ChatResponse `complete` would; clients without it answer whole."""

    def complete_streaming(self, request: ChatRequest, on_delta: OnDelta) -> ChatResponse: ...


def complete_with_deltas(
    client: ModelClient, request: ChatRequest, on_delta: OnDelta | None
) -> ChatResponse:
    """Stream through `client` when it can and someone listens; otherwise one answer."""
    streaming: Callable[[ChatRequest, OnDelta], ChatResponse] | None = getattr(
        client, "complete_streaming", None
    )
    if on_delta is None or streaming is None:
        return client.complete(request)
    return streaming(request, on_delta)
