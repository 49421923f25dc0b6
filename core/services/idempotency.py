"""Retried sends are processed once (SPEC §6).

A send carrying an `Idempotency-Key` header, or messages that all carry an `otid`, is
recorded under that key before it runs. A retry with the same key gets the stored response
once the first has finished, or a 409 while it is still running; the same key with a
different body is a 422. Records expire after a day (DynamoDB TTL).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from pydantic import BaseModel

from core.errors import ConcurrentModificationError, ConflictError, InvalidInputError
from core.persistence.retry import optimistic
from core.ports import Clock, Delete, Put, Store
from core.records import IdempotencyRecord
from core.schemas.messages import LettaRequest, MessageCreate

A = TypeVar("A", bound=BaseModel)

KEEP = timedelta(hours=24)
RUNNING_AT_MOST = timedelta(minutes=5)
"""A record left `running` longer than this belongs to a send that died; it is taken over."""


def key_for(header: str | None, req: LettaRequest) -> str | None:
    """The header's key, else one made of the messages' otids (when every message has one)."""
    if header:
        return f"key:{header}"
    otids = [m.otid for m in req.messages or [] if isinstance(m, MessageCreate)]
    if otids and all(otids) and len(otids) == len(req.messages or []):
        return "otid:" + ",".join(str(o) for o in otids)
    return None


def record_id(scope: str, key: str) -> str:
    return "idem-" + hashlib.sha256(f"{scope}|{key}".encode()).hexdigest()


def fingerprint(req: LettaRequest) -> str:
    """What makes two requests the same request."""
    return hashlib.sha256(req.model_dump_json().encode()).hexdigest()


class Idempotency:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def run(
        self,
        tenant: str,
        scope: str,
        key: str | None,
        req: LettaRequest,
        send: Callable[[], A],
        answer: type[A],
    ) -> A:
        """`send()` once per key; a retry gets the stored `answer` (a LettaResponse, or the
        Run an async send answered with)."""
        if key is None:
            return send()
        record = self.claim(tenant, record_id(scope, key), fingerprint(req))
        if record.status == "done":
            return answer.model_validate(record.response)
        try:
            response = send()
        except Exception:
            # Nothing to replay: let a retry run the send again.
            self._store.write(tenant, [Delete(record, record.version)])
            raise
        done = record.model_copy(
            update={
                "status": "done",
                "response": response.model_dump(mode="json"),
                "version": record.version + 1,
                "updated_at": self._clock.now(),
            }
        )
        self._store.write(tenant, [Put(done, record.version)])
        return response

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
            raise ConflictError(
                "A request with this idempotency key (or otid) is still being processed."
            )
        taken = fresh.model_copy(update={"version": existing.version + 1})
        try:
            self._store.write(tenant, [Put(taken, existing.version)])
        except ConcurrentModificationError as exc:
            # Another retry took the stale claim over first: it is the one running now.
            raise ConflictError(
                "A request with this idempotency key (or otid) is still being processed."
            ) from exc
        return taken
