"""Retried sends are processed once (SPEC §6).

A send carrying an `Idempotency-Key` header, or messages that all carry an `otid`, is
recorded under that key before it runs. A retry with the same key gets the stored response,
waiting for the first attempt while it is still running (up to WAIT_AT_MOST; a 409 telling
the client to retry if it runs on); the same key with a different body is a 422. Records
expire after a day (DynamoDB TTL).

A client that names no key but counts its attempts (letta-client sends
`x-stainless-retry-count` on each) is kept from doubling its sends too: an attempt numbered
0 is a new send, recorded under its route and body for RETRY_WINDOW; an attempt numbered 1
or more with the same body joins that send, waiting for its response (up to WAIT_AT_MOST)
instead of running the model again. A user who really sends the same text twice sends two
attempts numbered 0: two sends.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from pydantic import BaseModel

from core.errors import ConcurrentModificationError, ConflictError, InvalidInputError
from core.persistence.retry import optimistic
from core.ports import Clock, Delete, Put, Store
from core.records import IdempotencyRecord
from core.schemas.messages import LettaMessage, LettaRequest, LettaResponse, MessageCreate

A = TypeVar("A", bound=BaseModel)

KEEP = timedelta(hours=24)
RUNNING_AT_MOST = timedelta(minutes=5)
"""A record left `running` longer than this belongs to a send that died; it is taken over."""
RETRY_WINDOW = timedelta(minutes=15)
"""How long a keyless attempt can be joined by the client's retries of it."""
WAIT_AT_MOST = 20.0
"""Seconds a retry waits for the attempt it joins: with a cold start and the store's own
latency it still answers well within API Gateway's 29 s."""
POLL_EVERY = 0.2
STILL_RUNNING = (
    "A request with this idempotency key (or otid) is still being processed; retry to keep "
    "waiting for its response."
)


class StillRunning(ConflictError):
    """The attempt a retry repeats is still at work (a 409 once the retry stops waiting)."""


def key_for(header: str | None, req: LettaRequest) -> str | None:
    """The header's key, else one made of the messages' otids (when every message has one)."""
    if header:
        return f"key:{header}"
    otids = [m.otid for m in req.messages or [] if isinstance(m, MessageCreate)]
    if otids and all(otids) and len(otids) == len(req.messages or []):
        return "otid:" + ",".join(str(o) for o in otids)
    return None


KEYED_PREFIX = "idem-"


def record_id(scope: str, key: str) -> str:
    prefix = "attempt-" if key.startswith("attempt:") else KEYED_PREFIX
    return prefix + hashlib.sha256(f"{scope}|{key}".encode()).hexdigest()


def resume_key(scope: str, key: str | None, attempt: int | None, req: LettaRequest) -> str | None:
    """What a send is journaled under (core.groups.journal), so a retry of an attempt that
    died goes on from it: its key's record id, else (for a client that counts attempts) the
    record id its retries join; None when nothing could ever retry it."""
    if key is not None:
        return record_id(scope, key)
    if attempt is not None:
        return record_id(scope, "attempt:" + fingerprint(req))
    return None


def fingerprint(req: LettaRequest) -> str:
    """What makes two requests the same request."""
    return hashlib.sha256(req.model_dump_json().encode()).hexdigest()


class Idempotency:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        pause: Callable[[float], None] = time.sleep,
        elapsed: Callable[[], float] = time.monotonic,
    ) -> None:
        """`pause(seconds)`: how a joining retry waits between two looks at the send;
        `elapsed()`: a monotonic clock, so the store's own latency counts towards the wait."""
        self._store = store
        self._clock = clock
        self._pause = pause
        self._elapsed = elapsed

    def run(
        self,
        tenant: str,
        scope: str,
        key: str | None,
        req: LettaRequest,
        send: Callable[[], A],
        answer: type[A],
        attempt: int | None = None,
    ) -> A:
        """`send()` once per key; a retry gets the stored `answer` (a LettaResponse, or the
        Run an async send answered with). Without a key, `attempt` (the client's retry
        count, None when it sends none) lets retries join the attempt they repeat."""
        if key is None:
            if attempt is None:
                return send()
            return self._keyless(tenant, scope, req, attempt, send, answer)
        record = self._claim_waiting(tenant, record_id(scope, key), fingerprint(req))
        if record.status == "done":
            return answer.model_validate(record.response)
        return self._send_as(tenant, record, send)

    def run_stream(
        self,
        tenant: str,
        scope: str,
        key: str | None,
        req: LettaRequest,
        send: Callable[[Callable[[list[LettaMessage]], None]], LettaResponse],
        emit: Callable[[list[LettaMessage]], None],
        attempt: int | None = None,
    ) -> LettaResponse:
        """`run` for a streamed send: a retry that gets the stored response emits its
        messages, so the stream a retry reads is the stream the first attempt sent."""
        emitted = False

        def tracked(messages: list[LettaMessage]) -> None:
            nonlocal emitted
            emitted = True
            emit(messages)

        response = self.run(tenant, scope, key, req, lambda: send(tracked), LettaResponse, attempt)
        if not emitted and response.messages:
            emit(list(response.messages))
        return response

    def _send_as(self, tenant: str, record: IdempotencyRecord, send: Callable[[], A]) -> A:
        """Run the send the record stands for, then keep its response there."""
        try:
            response = send()
        except ConflictError as busy:
            taken_over = (
                record.id.startswith(KEYED_PREFIX) and record.version > 1
            )  # not the first claim
            if type(busy) is ConflictError and taken_over:
                # A claim taken over from an attempt that is in fact still at work (its
                # group is busy): leave the claim running, so its answer is kept.
                raise
            self._forget(tenant, record)
            raise
        except Exception:
            self._forget(tenant, record)
            raise
        done = record.model_copy(
            update={
                "status": "done",
                "response": response.model_dump(mode="json"),
                "version": record.version + 1,
                "updated_at": self._clock.now(),
            }
        )
        try:
            self._store.write(tenant, [Put(done, record.version)])
        except ConcurrentModificationError:
            if record.id.startswith(KEYED_PREFIX):
                # A retry took the claim over while this attempt ran on: this answer is
                # real, so it is the one kept.
                current = self._store.get(tenant, IdempotencyRecord, record.id)
                expected = current.version if current is not None else None
                kept = done.model_copy(update={"version": (expected or 0) + 1})
                with contextlib.suppress(ConcurrentModificationError):
                    self._store.write(tenant, [Put(kept if current else done, expected)])
        return response

    def _forget(self, tenant: str, record: IdempotencyRecord) -> None:
        """Nothing to replay: let a retry run the send again. (A newer attempt that took
        the record over owns it now.)"""
        with contextlib.suppress(ConcurrentModificationError):
            self._store.write(tenant, [Delete(record, record.version)])

    def _keyless(
        self,
        tenant: str,
        scope: str,
        req: LettaRequest,
        attempt: int,
        send: Callable[[], A],
        answer: type[A],
    ) -> A:
        claim_id = resume_key(scope, None, attempt, req) or ""
        if attempt >= 1:
            joined = self._join(tenant, claim_id)
            if joined is not None and joined.status == "done":
                return answer.model_validate(joined.response)
            if joined is not None:
                raise ConflictError(
                    "The first attempt of this request is still being processed; "
                    "retry to keep waiting for its response."
                )
        now = self._clock.now()
        fresh = IdempotencyRecord(
            id=claim_id,
            created_at=now,
            fingerprint=fingerprint(req),
            running_until=now + RUNNING_AT_MOST,
            expires_at=now + RETRY_WINDOW,
        )
        return self._send_as(tenant, self._overwrite(tenant, fresh), send)

    def _join(
        self, tenant: str, claim_id: str, started: float | None = None
    ) -> IdempotencyRecord | None:
        """The attempt a retry repeats, once it is done (or still running after
        WAIT_AT_MOST since `started`); None when there is none to join (never made,
        expired, or dead). Both the pauses and the time really spent count."""
        started = self._elapsed() if started is None else started
        waited = 0.0
        while True:
            record = self._store.get(tenant, IdempotencyRecord, claim_id)
            now = self._clock.now()
            if record is None or (record.expires_at and record.expires_at <= now):
                return None
            if record.status == "done":
                return record
            if record.running_until is None or record.running_until <= now:
                return None  # its attempt died: this retry is the send now
            if waited + POLL_EVERY > WAIT_AT_MOST or self._elapsed() - started >= WAIT_AT_MOST:
                return record
            self._pause(POLL_EVERY)
            waited += POLL_EVERY

    def _overwrite(self, tenant: str, fresh: IdempotencyRecord) -> IdempotencyRecord:
        """Record a new attempt, replacing whatever an earlier one left there."""

        def put(attempt: int) -> IdempotencyRecord:
            if attempt == 0:  # usually there is none: a create, without a read first
                self._store.write(tenant, [Put(fresh, None)])
                return fresh
            existing = self._store.get(tenant, IdempotencyRecord, fresh.id)
            record = fresh.model_copy(
                update={"version": existing.version + 1 if existing else fresh.version}
            )
            self._store.write(tenant, [Put(record, existing.version if existing else None)])
            return record

        return optimistic(put, what="the request's attempt record")

    def _claim_waiting(self, tenant: str, claim_id: str, claim_print: str) -> IdempotencyRecord:
        """`claim`; while an earlier attempt with the key is still at work, wait for it (up
        to WAIT_AT_MOST), as a counted retry does: then its stored response, or the claim
        once that attempt died. Still at work after the wait is a 409 (StillRunning)."""
        started = self._elapsed()
        while True:
            try:
                return self.claim(tenant, claim_id, claim_print)
            except StillRunning:
                # Look with reads (a claim is a write bound to fail) until it ends or dies.
                running = self._join(tenant, claim_id, started)
                if running is not None and running.status != "done":
                    raise

    def claim(self, tenant: str, claim_id: str, claim_print: str) -> IdempotencyRecord:
        """Record a send as running, or find how an earlier one with the key went. A claim
        that vanishes between the failed create and the read (it expired) is tried again
        under the one retry policy."""
        return optimistic(
            lambda _: self._claim_once(tenant, claim_id, claim_print),
            what="the idempotency key",
        )

    def _claim_once(self, tenant: str, claim_id: str, claim_print: str) -> IdempotencyRecord:
        now = self._clock.now()
        fresh = IdempotencyRecord(
            id=claim_id,
            created_at=now,
            fingerprint=claim_print,
            running_until=now + RUNNING_AT_MOST,
            expires_at=now + KEEP,
        )
        try:
            self._store.write(tenant, [Put(fresh, None)])
            return fresh
        except ConcurrentModificationError:
            pass
        existing = self._store.get(tenant, IdempotencyRecord, claim_id)
        if existing is None:
            raise ConcurrentModificationError("The claim vanished while it was read.")
        if existing.fingerprint != claim_print:
            raise InvalidInputError(
                "This idempotency key (or otid) was already used for a different request.",
                ("header", "Idempotency-Key"),
            )
        if existing.status == "done":
            return existing
        if existing.running_until and existing.running_until > now:
            raise StillRunning(STILL_RUNNING)
        taken = fresh.model_copy(update={"version": existing.version + 1})
        try:
            self._store.write(tenant, [Put(taken, existing.version)])
        except ConcurrentModificationError as exc:
            # Another retry took the stale claim over first: it is the one running now.
            raise StillRunning(STILL_RUNNING) from exc
        return taken
