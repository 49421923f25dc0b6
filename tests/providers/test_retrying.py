"""RetryingModelClient with a fake clock and sleep: no real waiting."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from core.llm import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ModelError,
    ModelRateLimitError,
    ModelRequestError,
    ModelResponseError,
    ModelServerError,
    ModelTimeoutError,
)
from infra.providers.anthropic import AnthropicClient
from infra.providers.http_errors import with_retry_after
from infra.providers.openai_compatible import OpenAICompatibleClient
from infra.providers.retrying import RetryingModelClient
from tests.providers.helpers import Deltas, FakeProvider, reply, sse

REQUEST = ChatRequest(
    provider="openai", model="m", system="s", messages=(ChatMessage(role="user", text="hi"),)
)
OK = ChatResponse(text="ok")


class Scripted:
    """A model that fails with the queued errors, then answers."""

    def __init__(self, *errors: ModelError) -> None:
        self.errors = list(errors)
        self.calls = 0

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return OK


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def retrying(inner: Scripted, time: FakeTime, **kwargs: object) -> RetryingModelClient:
    return RetryingModelClient(
        inner,
        sleep=time.sleep,
        clock=time.clock,
        rng=random.Random(7),
        **kwargs,  # type: ignore[arg-type]
    )


def test_retries_transient_errors_then_succeeds() -> None:
    inner = Scripted(ModelServerError("503", 503), ModelTimeoutError("slow"))
    time = FakeTime()
    assert retrying(inner, time).complete(REQUEST) is OK
    assert inner.calls == 3
    first, second = time.sleeps
    assert 0.25 <= first <= 0.5  # jitter within [cap/2, cap], cap = 0.5 * 2**0
    assert 0.5 <= second <= 1.0


def test_jitter_is_deterministic_with_a_seeded_random() -> None:
    runs = []
    for _ in range(2):
        time = FakeTime()
        retrying(Scripted(ModelServerError("x"), ModelServerError("x")), time).complete(REQUEST)
        runs.append(time.sleeps)
    assert runs[0] == runs[1]


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    last = ModelRateLimitError("third", 429)
    inner = Scripted(ModelServerError("first"), ModelServerError("second"), last)
    time = FakeTime()
    with pytest.raises(ModelRateLimitError) as caught:
        retrying(inner, time, max_attempts=3).complete(REQUEST)
    assert caught.value is last
    assert inner.calls == 3
    assert len(time.sleeps) == 2


@pytest.mark.parametrize(
    "error", [ModelRequestError("bad key", 401), ModelResponseError("garbage")]
)
def test_does_not_retry_non_retryable_errors(error: ModelError) -> None:
    inner = Scripted(error)
    time = FakeTime()
    with pytest.raises(type(error)):
        retrying(inner, time).complete(REQUEST)
    assert inner.calls == 1
    assert time.sleeps == []


def test_honours_retry_after() -> None:
    inner = Scripted(with_retry_after(ModelRateLimitError("429", 429), 4.0))
    time = FakeTime()
    assert retrying(inner, time).complete(REQUEST) is OK
    assert time.sleeps == [4.0]


def test_never_sleeps_past_the_budget() -> None:
    inner = Scripted(with_retry_after(ModelRateLimitError("429", 429), 45.0))
    time = FakeTime()
    with pytest.raises(ModelRateLimitError):
        retrying(inner, time, budget_s=30).complete(REQUEST)
    assert inner.calls == 1
    assert time.sleeps == []


def test_budget_counts_time_spent_in_calls() -> None:
    time = FakeTime()

    class Slow(Scripted):
        def complete(self, request: ChatRequest) -> ChatResponse:
            time.now += 9.0  # each attempt burns 9 s before timing out
            return super().complete(request)

    inner = Slow(*[ModelTimeoutError("slow") for _ in range(5)])
    with pytest.raises(ModelTimeoutError):
        retrying(inner, time, max_attempts=10, budget_s=20, base_delay_s=1).complete(REQUEST)
    assert inner.calls == 2  # a third 9 s attempt would end past the 20 s budget
    assert time.now - 100.0 <= 20


def test_backoff_is_capped() -> None:
    inner = Scripted(*[ModelServerError("x") for _ in range(6)])
    time = FakeTime()
    retrying(inner, time, max_attempts=7, max_delay_s=2.0, budget_s=1000).complete(REQUEST)
    assert max(time.sleeps) <= 2.0
    assert time.sleeps[-1] >= 1.0


class ScriptedStream(Scripted):
    """A streaming model: each attempt emits its queued deltas, then fails or answers."""

    def __init__(self, *attempts: tuple[tuple[str, ...], ModelError | None]) -> None:
        super().__init__()
        self.attempts = list(attempts)
        self.streaming_calls = 0

    def complete_streaming(
        self, request: ChatRequest, on_delta: Callable[[str, str], None]
    ) -> ChatResponse:
        self.streaming_calls += 1
        pieces, error = self.attempts.pop(0)
        for piece in pieces:
            on_delta("text", piece)
        if error is not None:
            raise error
        return ChatResponse(text="".join(pieces))


def test_streaming_retries_while_nothing_was_shown() -> None:
    inner = ScriptedStream(
        ((), ModelServerError("overloaded", 529)),
        ((), ModelTimeoutError("slow")),
        (("Hel", "lo"), None),
    )
    time = FakeTime()
    deltas = Deltas()
    response = retrying(inner, time).complete_streaming(REQUEST, deltas)
    assert response == ChatResponse(text="Hello")
    assert deltas.seen == [("text", "Hel"), ("text", "lo")]
    assert inner.streaming_calls == 3
    assert inner.calls == 0
    assert len(time.sleeps) == 2


def test_streaming_error_after_the_first_delta_is_raised_not_retried() -> None:
    error = ModelServerError("connection dropped")
    inner = ScriptedStream((("Partial",), error), (("Again",), None))
    time = FakeTime()
    deltas = Deltas()
    with pytest.raises(ModelServerError) as caught:
        retrying(inner, time).complete_streaming(REQUEST, deltas)
    assert caught.value is error
    assert inner.streaming_calls == 1
    assert deltas.seen == [("text", "Partial")]
    assert time.sleeps == []


def test_streaming_keeps_the_non_retryable_rule_and_the_attempt_limit() -> None:
    inner = ScriptedStream(((), ModelRequestError("bad key", 401)))
    with pytest.raises(ModelRequestError):
        retrying(inner, FakeTime()).complete_streaming(REQUEST, Deltas())
    assert inner.streaming_calls == 1

    inner = ScriptedStream(*[((), ModelServerError(str(i))) for i in range(3)])
    with pytest.raises(ModelServerError, match="2"):
        retrying(inner, FakeTime(), max_attempts=3).complete_streaming(REQUEST, Deltas())
    assert inner.streaming_calls == 3


def test_streaming_honours_retry_after_and_the_budget() -> None:
    inner = ScriptedStream(
        ((), with_retry_after(ModelRateLimitError("429", 429), 4.0)), (("ok",), None)
    )
    time = FakeTime()
    assert retrying(inner, time).complete_streaming(REQUEST, Deltas()).text == "ok"
    assert time.sleeps == [4.0]

    inner = ScriptedStream(((), with_retry_after(ModelRateLimitError("429", 429), 45.0)))
    time = FakeTime()
    with pytest.raises(ModelRateLimitError):
        retrying(inner, time, budget_s=30).complete_streaming(REQUEST, Deltas())
    assert time.sleeps == []


def test_streaming_falls_back_to_complete_when_the_inner_client_cannot_stream() -> None:
    inner = Scripted(ModelServerError("503", 503))
    deltas = Deltas()
    assert retrying(inner, FakeTime()).complete_streaming(REQUEST, deltas) is OK
    assert inner.calls == 2  # still retried
    assert deltas.seen == []


def test_streaming_over_a_real_adapter_retries_an_error_event_before_any_text() -> None:
    fake = FakeProvider(
        sse("anthropic_stream_overloaded_at_start"),
        reply("anthropic_error_529", 529),
        sse("anthropic_stream_text"),
    )
    client = AnthropicClient("k", "http://claude.local", 5.0, http=fake.client())
    deltas = Deltas()
    response = retrying(client, FakeTime()).complete_streaming(REQUEST, deltas)  # type: ignore[arg-type]
    assert len(fake.requests) == 3
    assert response.text == deltas.joined("text")
    assert response.text.startswith("Hi! I'm Claude.")


def test_streaming_over_a_real_adapter_does_not_retry_after_partial_text() -> None:
    fake = FakeProvider(sse("openai_stream_error_midway"), sse("openai_stream_text"))
    client = OpenAICompatibleClient("http://llm.local/v1", None, 5.0, http=fake.client())
    deltas = Deltas()
    with pytest.raises(ModelServerError):
        retrying(client, FakeTime()).complete_streaming(REQUEST, deltas)  # type: ignore[arg-type]
    assert len(fake.requests) == 1
    assert deltas.joined("text") == "Let me think"
