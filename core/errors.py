"""Domain errors. Core raises these; handler/errors.py maps each kind to one HTTP status."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error core raises on purpose; `detail` is safe to show to the caller."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(DomainError):
    """A well-formed id that names nothing in the caller's tenant (HTTP 404)."""


class BadRequestError(DomainError):
    """Well-formed input that the current state or a domain rule forbids (HTTP 400)."""


class InvalidInputError(DomainError):
    """A value that passed the schema but breaks a rule only core knows (HTTP 422).

    `loc` names the offending field the way FastAPI's own validation errors do, so clients
    see one error shape for every 422.
    """

    def __init__(self, detail: str, loc: tuple[str | int, ...] = ("body",)) -> None:
        super().__init__(detail)
        self.loc = loc


class ConflictError(DomainError):
    """The resource is busy or was changed by someone else meanwhile (HTTP 409)."""


class PayloadTooLargeError(DomainError):
    """A message too large to store (HTTP 413)."""


class RecordTooLargeError(PayloadTooLargeError):
    """A record larger than the store keeps in one piece (`StoreLimits.max_record_bytes`);
    the store refuses the whole write before anything is written."""


class TooManyChangesError(BadRequestError):
    """One atomic write would change more records than the store can change at once
    (`StoreLimits.max_changes_per_write`); nothing is written and the change must be split."""


class SendInterruptedError(ConflictError):
    """A send stopped part-way after committing some of its work (it lost its hold on the
    group, or a write kept losing races); replaying it would repeat what already happened,
    so the edge tells clients not to retry it automatically."""


class ConcurrentModificationError(ConflictError):
    """An optimistic write lost a race; `core.persistence.retry` reruns the write and, when
    attempts run out, answers 409 naming the contended records (`contended`, e.g.
    "group group-…"), which the store fills in when it can tell which check failed."""

    def __init__(self, detail: str, contended: tuple[str, ...] = ()) -> None:
        super().__init__(detail)
        self.contended = contended


class UnauthorizedError(DomainError):
    """Missing or unknown credentials (HTTP 401)."""


QUOTE_CHARS = 64
"""The most of any input an error message repeats (a cursor, a name, a value)."""


def quote(value: object, limit: int = QUOTE_CHARS) -> str:
    """`value` as `repr` shows it, cut to a short prefix: error bodies must stay small and
    never carry back whatever a caller sent (a 10 MB string, a secret pasted by mistake)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}…(+{len(text) - limit} chars)"


class ServiceUnavailableError(DomainError):
    """The store is throttled or out of reach beyond its own retries (HTTP 503): nothing
    is wrong with the request, and the same request may succeed after `retry_after_s`."""

    def __init__(self, detail: str, retry_after_s: int = 1) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


def some(items: list[str], most: int = 5) -> str:
    """The first few of `items`, comma-separated, and how many more: an error naming ids a
    caller sent stays short however many it sent."""
    shown = ", ".join(items[:most])
    return shown if len(items) <= most else f"{shown} and {len(items) - most} more"
