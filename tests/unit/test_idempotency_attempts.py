"""Retries join the attempt they repeat (core.services.idempotency): a client that
numbers its attempts (letta-client's `x-stainless-retry-count`) never has a send run twice,
while two first attempts with the same text are two sends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from core.errors import ConflictError
from core.schemas.messages import LettaRequest, LettaResponse, LettaStopReason
from core.schemas.messages import LettaUsageStatistics as Usage
from core.services.idempotency import (
    RETRY_WINDOW,
    RUNNING_AT_MOST,
    Idempotency,
    fingerprint,
    record_id,
)
from tests.fakes import FakeClock, InMemoryStore

TENANT = "t"
SCOPE = "group:g-1"
REQUEST = LettaRequest(messages=[{"role": "user", "content": "hi"}])


class Sends:
    """The send behind the idempotency layer: counts how often it really ran."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> LettaResponse:
        self.count += 1
        return LettaResponse(
            messages=[],
            stop_reason=LettaStopReason(stop_reason="end_turn"),
            usage=Usage(step_count=self.count),
        )


def _layer(pause=lambda _: None) -> tuple[Idempotency, FakeClock]:  # noqa: ANN001
    clock = FakeClock()
    return Idempotency(InMemoryStore(), clock, pause), clock


def test_a_retry_gets_the_first_attempts_response_without_sending_again() -> None:
    layer, _ = _layer()
    send = Sends()
    first = layer.run(TENANT, SCOPE, None, REQUEST, send, LettaResponse, 0)
    again = layer.run(TENANT, SCOPE, None, REQUEST, send, LettaResponse, 1)
    assert send.count == 1 and again == first


def test_two_first_attempts_of_the_same_text_are_two_sends() -> None:
    layer, _ = _layer()
    send = Sends()
    layer.run(TENANT, SCOPE, None, REQUEST, send, LettaResponse, 0)
    second = layer.run(TENANT, SCOPE, None, REQUEST, send, LettaResponse, 0)
    assert send.count == 2
    # ...and a retry of the second joins the second.
    assert layer.run(TENANT, SCOPE, None, REQUEST, send, LettaResponse, 1) == second


def test_a_retry_waits_for_the_attempt_still_running() -> None:
    send = Sends()
    layer: Idempotency
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 3:  # meanwhile the first attempt finishes
            layer.run(TENANT, SCOPE, None, REQUEST, send, LettaResponse, 0)

    layer, _ = _layer(pause)
    first_running = _start_running(layer)
    joined = layer.run(TENANT, SCOPE, None, REQUEST, send, LettaResponse, 1)
    assert first_running and len(pauses) == 3
    assert send.count == 1 and joined.usage.step_count == 1


def test_a_retry_still_waiting_after_the_limit_is_told_to_retry() -> None:
    layer, _ = _layer()
    _start_running(layer)
    with pytest.raises(ConflictError, match="still being processed"):
        layer.run(TENANT, SCOPE, None, REQUEST, Sends(), LettaResponse, 2)


def test_a_retry_of_an_attempt_that_died_or_expired_is_the_send() -> None:
    layer, clock = _layer()
    _start_running(layer)
    clock._now += RUNNING_AT_MOST + timedelta(seconds=1)
    send = Sends()
    layer.run(TENANT, SCOPE, None, REQUEST, send, LettaResponse, 1)
    assert send.count == 1
    clock._now += RETRY_WINDOW
    layer.run(TENANT, SCOPE, None, REQUEST, send, LettaResponse, 1)
    assert send.count == 2


def test_a_client_that_counts_nothing_is_not_recorded() -> None:
    layer, _ = _layer()
    send = Sends()
    layer.run(TENANT, SCOPE, None, REQUEST, send, LettaResponse, None)
    layer.run(TENANT, SCOPE, None, REQUEST, send, LettaResponse, None)
    assert send.count == 2
    assert not layer._store.items  # type: ignore[attr-defined]


class _Killed(BaseException):
    """The process running the first attempt stopped: nothing after it ran."""


def _start_running(layer: Idempotency) -> bool:
    """A first attempt still at work (as far as anyone can tell): its record says running."""

    def killed() -> LettaResponse:
        raise _Killed()

    with pytest.raises(_Killed):
        layer.run(TENANT, SCOPE, None, REQUEST, killed, LettaResponse, 0)
    return True


KEY = "key:abc"


def test_a_keyed_retry_waits_for_the_attempt_still_running() -> None:
    """SPEC §6: the retry gets the stored response, waiting for the first attempt."""
    send = Sends()
    layer: Idempotency
    pauses: list[float] = []
    first: dict[str, Any] = {}

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 3:  # meanwhile the first attempt finishes
            first["response"] = layer._send_as(TENANT, first["claim"], send)  # noqa: SLF001

    layer, _ = _layer(pause)
    first["claim"] = layer.claim(TENANT, record_id(SCOPE, KEY), fingerprint(REQUEST))
    again = layer.run(TENANT, SCOPE, KEY, REQUEST, send, LettaResponse)
    assert len(pauses) == 3 and send.count == 1
    assert again == first["response"]


def test_a_keyed_retry_still_waiting_after_the_limit_is_told_to_retry() -> None:
    layer, _ = _layer()
    layer.claim(TENANT, record_id(SCOPE, KEY), fingerprint(REQUEST))
    send = Sends()
    with pytest.raises(ConflictError, match="retry to keep waiting"):
        layer.run(TENANT, SCOPE, KEY, REQUEST, send, LettaResponse)
    assert send.count == 0


def test_the_time_the_store_takes_counts_towards_the_wait() -> None:
    """A slow store must not stretch a retry's wait past API Gateway's 29 s: the wait is
    measured on a clock, not only as the sum of the pauses."""
    ticks: list[float] = []

    def elapsed() -> float:  # each look at the store takes 4 s here
        ticks.append(len(ticks) * 4.0)
        return ticks[-1]

    pauses: list[float] = []
    layer = Idempotency(InMemoryStore(), FakeClock(), pauses.append, elapsed)
    layer.claim(TENANT, record_id(SCOPE, KEY), fingerprint(REQUEST))
    with pytest.raises(ConflictError, match="retry to keep waiting"):
        layer.run(TENANT, SCOPE, KEY, REQUEST, Sends(), LettaResponse)
    assert len(pauses) <= 5  # 20 s of clock, not 100 pauses of 0.2 s
