"""API keys as the operator manages them (handler.keys): create, list, revoke.

A key is 256 random bits shown once, when it is created; the store keeps only its SHA-256
(the record's id) and a short visible prefix. A fast unsalted hash is enough for keys of
that entropy (no dictionary to try) and lets a request's key be found by one read.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from core.errors import BadRequestError, InvalidInputError, NotFoundError
from core.filters import Equals, Filter
from core.paging import MAX_PAGE_SIZE, PageRequest
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store
from core.records import ApiKeyRecord

KEY_TENANT = "#api-keys"
"""The partition every key record lives in: tenant names cannot hold '#' (TENANT_NAME)."""
KEY_MARK = "lgs-"
"""Starts every key, so people and secret scanners can tell what it is."""
VISIBLE_CHARS = len(KEY_MARK) + 8
"""How much of a key listings show: enough to tell keys apart, useless to an attacker."""
TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def key_hash(key: str) -> str:
    """What the store keeps of a key, and the id of its record."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    key: str
    """The key itself: shown to the operator once, stored nowhere."""
    record: ApiKeyRecord


class ApiKeys:
    """The key records of every tenant, in the KEY_TENANT partition of the store."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def create(self, tenant: str, name: str | None = None) -> NewKey:
        if not TENANT_NAME.match(tenant):
            raise InvalidInputError(
                "A tenant name is 1 to 64 letters, digits, '_', '.' or '-', starting with a "
                "letter or digit.",
                loc=("tenant",),
            )
        key = KEY_MARK + secrets.token_urlsafe(32)
        record = ApiKeyRecord(
            id=key_hash(key),
            created_at=self._clock.now(),
            tenant=tenant,
            prefix=key[:VISIBLE_CHARS],
            name=name,
        )
        unit = UnitOfWork(self._store, KEY_TENANT, self._clock)
        unit.add(record)
        unit.commit()
        return NewKey(key=key, record=record)

    def list(self, tenant: str | None = None) -> list[ApiKeyRecord]:
        """Every key (of one tenant, if named), oldest first, revoked ones too."""
        filters: tuple[Filter, ...] = (Equals("tenant", tenant),) if tenant else ()
        found: list[ApiKeyRecord] = []
        after: str | None = None
        while True:
            page = PageRequest(limit=MAX_PAGE_SIZE, order="asc", after=after)
            batch = self._store.list(KEY_TENANT, ApiKeyRecord, page, filters)
            found.extend(batch)
            if len(batch) < MAX_PAGE_SIZE:
                return found
            after = batch[-1].id

    def revoke(self, key_or_prefix: str) -> ApiKeyRecord:
        """Revoke the key given whole, or by the prefix listings show (the whole prefix, of
        exactly one key). Revoking a revoked key changes nothing."""
        unit = UnitOfWork(self._store, KEY_TENANT, self._clock)
        whole = unit.load_existing(ApiKeyRecord, [key_hash(key_or_prefix)])
        record = whole[0] if whole else unit.track(ApiKeyRecord, self._by_prefix(key_or_prefix))
        if record.revoked_at is None:
            record.revoked_at = unit.now
            unit.touch(record)
            unit.commit()
        return record

    def tenant_for(self, key: str) -> str | None:
        """The tenant a key opens; None for a key that is unknown or revoked."""
        record = self._store.get(KEY_TENANT, ApiKeyRecord, key_hash(key))
        if record is None or record.revoked_at is not None:
            return None
        return record.tenant

    def _by_prefix(self, prefix: str) -> ApiKeyRecord:
        matches = [r for r in self.list() if r.prefix == prefix]
        if not matches:
            raise NotFoundError(
                f"No API key is {prefix[:VISIBLE_CHARS]!r} or has it as its listed prefix."
            )
        if len(matches) > 1:
            raise BadRequestError(
                f"{len(matches)} API keys have the prefix {prefix!r}: revoke by the whole key."
            )
        return matches[0]
