"""Retries of transient model failures, inside a time budget.

A Lambda invocation has a hard deadline, so retries are bounded by wall time as well as by
count: a retry is not started when its wait plus an attempt as long as the last one would
overrun the budget, and the last error surfaces so the agent loop can end the step with its
stop reason.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from core.llm import ChatRequest, ChatResponse, ModelClient, ModelError


class RetryingModelClient:
    """Wraps a ModelClient; retries only errors marked `retryable` (timeouts, 429, 5xx)."""

    def __init__(
        self,
        inner: ModelClient,
        max_attempts: int = 3,
        base_delay_s: float = 0.5,
        max_delay_s: float = 8.0,
        budget_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.inner = inner
        self.max_attempts = max(1, max_attempts)
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.budget_s = budget_s
        self.sleep = sleep
        self.clock = clock
        self.rng = rng or random.Random()

    def complete(self, request: ChatRequest) -> ChatResponse:
        return self._with_retries(lambda: self.inner.complete(request), lambda: True)

    def complete_streaming(
        self, request: ChatRequest, on_delta: Callable[[str, str], None]
    ) -> ChatResponse:
        """Streams through the inner client, retrying like `complete` only while no delta has
        been emitted: once the caller has shown partial output a retry would repeat it, so
        the error surfaces instead. An inner client that cannot stream is called with
        `complete` (with retries) and emits no deltas."""
        stream = getattr(self.inner, "complete_streaming", None)
        if stream is None:
            return self.complete(request)
        emitted = False

        def forward(kind: str, piece: str) -> None:
            nonlocal emitted
            emitted = True
            on_delta(kind, piece)

        return self._with_retries(lambda: stream(request, forward), lambda: not emitted)

    def _with_retries(
        self, attempt_call: Callable[[], ChatResponse], may_retry: Callable[[], bool]
    ) -> ChatResponse:
        started = self.clock()
        attempt = 1
        while True:
            attempt_started = self.clock()
            try:
                return attempt_call()
            except ModelError as error:
                if not error.retryable or attempt >= self.max_attempts or not may_retry():
                    raise
                now = self.clock()
                delay = self.delay(attempt, error)
                # Expect the next attempt to take as long as this one did (a timeout will).
                if now - started + delay + (now - attempt_started) > self.budget_s:
                    raise
                self.sleep(delay)
                attempt += 1

    def delay(self, attempt: int, error: ModelError) -> float:
        """The provider's Retry-After when it gave one, else capped exponential backoff with
        jitter in [cap/2, cap] so concurrent agents don't retry in lockstep."""
        retry_after = error.retry_after
        if retry_after is not None:
            return max(0.0, float(retry_after))
        cap: float = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return cap / 2 + self.rng.uniform(0, cap / 2)
