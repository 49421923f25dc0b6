"""The one retry policy for optimistic writes.

Every read-modify-write that may lose a race goes through `optimistic`: it reruns the whole
attempt (reads included) up to ATTEMPTS times and, when attempts run out, raises a 409 that
names what was contended. Nothing gives up silently.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from core.errors import ConcurrentModificationError, ConflictError, SendInterruptedError

P = ParamSpec("P")
T = TypeVar("T")

ATTEMPTS = 4
"""Tries per optimistic write; each rereads what it changes."""

PATIENT_ATTEMPTS = 12
"""Tries for a write that concurrent work is expected to contend for: the steps and memory
edits of one agent's overlapping runs (sleeptime passes). See `patient`."""
PATIENT_PAUSE_S = 0.005
"""The first pause after a lost race of a patient write; it doubles (to 32x), randomised."""


class ContendedError(ConflictError):
    """An optimistic write lost its race ATTEMPTS times in a row (HTTP 409); `what` names
    the contended records."""

    def __init__(self, detail: str, what: str) -> None:
        super().__init__(detail)
        self.what = what


def optimistic(attempt: Callable[[int], T], *, what: str, attempts: int = ATTEMPTS) -> T:
    """Run `attempt(n)` (n = 0, 1, …) until it commits without losing a race.

    `what` names the contended thing for the 409 when no store detail says more ("group
    group-…"); the attempt number lets a first try start from a copy already held.
    """
    last: ConcurrentModificationError | None = None
    for number in range(attempts):
        try:
            return attempt(number)
        except ConcurrentModificationError as exc:
            last = exc
    contended = ", ".join(last.contended) if last is not None and last.contended else what
    raise ContendedError(
        f"{_capital(contended)} kept changing while this request ran "
        f"({attempts} attempts); retry it.",
        contended,
    ) from last


def patient(attempt: Callable[[int], T], *, what: str) -> T:
    """`optimistic` for writes that overlapping work on one agent contends for: more tries,
    each after a short random pause that grows, so that among writers which keep coming
    back (runs taking step after step) none loses every race."""

    def paused(number: int) -> T:
        if number:
            ceiling = PATIENT_PAUSE_S * 2 ** min(number - 1, 5)
            time.sleep(random.uniform(0, ceiling))  # noqa: S311 - jitter, not security
        return attempt(number)

    return optimistic(paused, what=what, attempts=PATIENT_ATTEMPTS)


def retry_on_conflict(what: str) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorate a use-case that reads and writes from scratch on every call."""

    def decorate(use_case: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(use_case)
        def run(*args: P.args, **kwargs: P.kwargs) -> T:
            return optimistic(lambda _: use_case(*args, **kwargs), what=what)

        return run

    return decorate


@contextmanager
def not_replayable() -> Iterator[None]:
    """Around a send's work once part of it may be committed: a write that kept losing
    there ends the send as interrupted (409, not to be retried blindly), since replaying
    the whole send would repeat what it already saved."""
    try:
        yield
    except ContendedError as exc:
        raise SendInterruptedError(
            f"{_capital(exc.what)} kept changing while this send ran, so it stopped there; "
            "what it produced before is kept. Check the messages before sending again."
        ) from exc


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
