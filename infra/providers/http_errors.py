"""One place that turns HTTP-level failures of a model provider into core's ModelError types.

The OpenAI-compatible and Anthropic adapters share it so a 429 or a timeout means the same
thing whichever provider produced it, and so the retry wrapper sees `retry_after` uniformly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from core.llm import (
    ModelError,
    ModelRateLimitError,
    ModelRequestError,
    ModelResponseError,
    ModelServerError,
    ModelTimeoutError,
)

MAX_DETAIL = 500


def with_retry_after(error: ModelError, seconds: float | None) -> ModelError:
    """Attach the provider's requested wait; RetryingModelClient reads `retry_after`."""
    error.retry_after = seconds
    return error


def parse_retry_after(
    headers: Mapping[str, str], now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> float | None:
    """Seconds to wait from `retry-after-ms` (OpenAI) or `Retry-After` (seconds or HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())


def provider_message(body: str) -> str:
    """The human-readable error message from the common provider error envelopes."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return body.strip()[:MAX_DETAIL]
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:MAX_DETAIL]  # OpenAI, Anthropic, vLLM (new)
        if isinstance(error, str):
            return error[:MAX_DETAIL]  # Ollama
        for key in ("message", "detail"):  # vLLM (old), FastAPI-based servers
            if data.get(key):
                return str(data[key])[:MAX_DETAIL]
    return body.strip()[:MAX_DETAIL]


def error_for_status(provider: str, response: httpx.Response) -> ModelError:
    """Map a non-2xx response to the ModelError that says whether a retry can help."""
    status = response.status_code
    detail = f"{provider} returned HTTP {status}: {provider_message(response.text)}"
    error: ModelError
    if status == 408:
        error = ModelTimeoutError(detail, status)
    elif status == 429:
        error = ModelRateLimitError(detail, status)
    elif status >= 500:  # includes Anthropic's 529 overloaded_error
        error = ModelServerError(detail, status)
    else:
        error = ModelRequestError(detail, status)
    return with_retry_after(error, parse_retry_after(response.headers))


def post_json(
    http: httpx.Client,
    provider: str,
    url: str,
    payload: dict[str, Any],
    headers: dict[str, str],
    timeout_s: float,
) -> dict[str, Any]:
    """POST a JSON body and return the decoded JSON object, or raise the mapped ModelError."""
    with transport_errors(provider):
        response = http.post(url, json=payload, headers=headers, timeout=timeout_s)
    if not response.is_success:
        raise error_for_status(provider, response)
    try:
        data = response.json()
    except ValueError as exc:
        raise ModelResponseError(
            f"{provider} returned a body that is not JSON: {response.text[:200]!r}",
            response.status_code,
        ) from exc
    if not isinstance(data, dict):
        raise ModelResponseError(f"{provider} returned JSON that is not an object")
    return data


@contextmanager
def transport_errors(provider: str) -> Iterator[None]:
    """Timeouts and connection failures are transient: surface them as retryable errors."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ModelTimeoutError(f"{provider} timed out: {type(exc).__name__}") from exc
    except httpx.TransportError as exc:
        raise ModelServerError(f"{provider} could not be reached: {exc}") from exc


@contextmanager
def response_shape(provider: str) -> Iterator[None]:
    """A response missing the fields we read is the provider's fault, not a bug of ours."""
    try:
        yield
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
        raise ModelResponseError(
            f"{provider} returned an unexpected response shape: {type(exc).__name__}: {exc}"
        ) from exc


@dataclass(frozen=True)
class SSEEvent:
    """One server-sent event: its `event:` name (None when absent) and its joined `data:`."""

    event: str | None
    data: str


def parse_sse(lines: Iterable[str]) -> Iterator[SSEEvent]:
    """Server-sent events from a line stream (the WHATWG rules we need: `event:`/`data:`
    fields, `:` comments, dispatch on a blank line). An event cut off by the end of the
    stream is dropped, as the spec says, so a truncated stream shows up as incomplete."""
    event: str | None = None
    data: list[str] = []
    for line in lines:
        line = line.rstrip("\r")
        if not line:
            if data:
                yield SSEEvent(event, "\n".join(data))
            event, data = None, []
            continue
        if line.startswith(":"):
            continue  # keep-alive comment (OpenRouter ": OPENROUTER PROCESSING")
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value


def post_sse(
    http: httpx.Client,
    provider: str,
    url: str,
    payload: dict[str, Any],
    headers: dict[str, str],
    timeout_s: float,
) -> Generator[SSEEvent, None, None]:
    """POST a JSON body and yield the server-sent events of the streamed answer.

    A non-2xx status is mapped exactly like `post_json`; a timeout or a dropped connection,
    before or during the stream, is a retryable ModelTimeoutError/ModelServerError. Close
    the generator (contextlib.closing) to release the connection when stopping early."""
    with (
        transport_errors(provider),
        http.stream(
            "POST",
            url,
            json=payload,
            headers={**headers, "accept": "text/event-stream"},
            timeout=timeout_s,
        ) as response,
    ):
        if not response.is_success:
            response.read()
            raise error_for_status(provider, response)
        yield from parse_sse(response.iter_lines())


def stream_error(provider: str, error: Any) -> ModelError:
    """An error reported inside a 200 stream: transient kinds are retryable server errors,
    anything else means the answer is unusable."""
    kind = message = ""
    if isinstance(error, dict):
        kind = str(error.get("type") or error.get("code") or "")
        message = str(error.get("message") or "")
    elif error is not None:
        message = str(error)
    detail = f"{provider} stream error {kind or 'unknown'}: {message[:MAX_DETAIL]}"
    if kind in _TRANSIENT_STREAM_ERRORS:
        return ModelServerError(detail)
    return ModelResponseError(detail)


_TRANSIENT_STREAM_ERRORS = frozenset(
    {"overloaded_error", "api_error", "rate_limit_error", "timeout_error", "server_error"}
)
