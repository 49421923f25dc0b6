"""API keys in core: stored hashed, listed by prefix, revoked, and found through a cache
whose TTL bounds how long a revoked key still opens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import BadRequestError, InvalidInputError, NotFoundError, UnauthorizedError
from core.ports import Put
from core.records import ApiKeyRecord
from core.services.api_keys import KEY_MARK, KEY_TENANT, VISIBLE_CHARS, ApiKeys, key_hash
from core.services.authentication import INVALID_KEY, MISSING_KEY, Authenticator
from tests.fakes import InMemoryStore


class ManualClock:
    """Time stands still until a test moves it."""

    def __init__(self) -> None:
        self.time = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.time


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def keys(store: InMemoryStore, clock: ManualClock) -> ApiKeys:
    return ApiKeys(store, clock)


def test_a_key_is_stored_as_its_hash_and_a_visible_prefix_only(
    keys: ApiKeys, store: InMemoryStore
) -> None:
    made = keys.create("alice", name="ci")
    assert made.key.startswith(KEY_MARK) and len(made.key) >= len(KEY_MARK) + 43
    assert made.record.id == key_hash(made.key)
    assert made.record.prefix == made.key[:VISIBLE_CHARS]
    stored = "".join(store.items.values())
    assert made.key not in stored
    assert made.key[VISIBLE_CHARS:] not in stored
    assert keys.tenant_for(made.key) == "alice"
    assert keys.tenant_for(made.key + "x") is None
    assert keys.create("alice").key != made.key


def test_keys_are_listed_per_tenant_in_creation_order(keys: ApiKeys, clock: ManualClock) -> None:
    made = []
    for tenant in ("alice", "bob", "alice"):
        made.append(keys.create(tenant))
        clock.time += timedelta(seconds=1)
    assert [r.prefix for r in keys.list()] == [m.record.prefix for m in made]
    assert [r.id for r in keys.list("alice")] == [made[0].record.id, made[2].record.id]
    assert keys.list("carol") == []


@pytest.mark.parametrize("tenant", ["", "#api-keys", "a b", "a:b", "-x", "x" * 65])
def test_a_tenant_name_no_key_partition_can_collide_with(keys: ApiKeys, tenant: str) -> None:
    with pytest.raises(InvalidInputError):
        keys.create(tenant)


def test_revoke_by_key_or_listed_prefix_keeps_the_record(keys: ApiKeys) -> None:
    first, second = keys.create("alice"), keys.create("bob")
    revoked = keys.revoke(first.key)
    assert revoked.revoked_at is not None and keys.tenant_for(first.key) is None
    assert keys.revoke(first.key).revoked_at == revoked.revoked_at  # again: no change
    keys.revoke(second.record.prefix)
    assert keys.tenant_for(second.key) is None
    assert [r.revoked_at is not None for r in keys.list()] == [True, True]


def test_revoke_refuses_an_unknown_or_ambiguous_prefix(
    keys: ApiKeys, store: InMemoryStore, clock: ManualClock
) -> None:
    made = keys.create("alice")
    with pytest.raises(NotFoundError):
        keys.revoke(made.record.prefix[:-1])
    twin = ApiKeyRecord(
        id=key_hash("another key"), created_at=clock.now(), tenant="bob", prefix=made.record.prefix
    )
    store.write(KEY_TENANT, [Put(twin, None)])
    with pytest.raises(BadRequestError):
        keys.revoke(made.record.prefix)
    assert keys.tenant_for(made.key) == "alice"


def _authenticator(keys: ApiKeys, clock: ManualClock, **options: object) -> Authenticator:
    settings: dict[str, object] = {"configured": {}, "open_access": False, **options}
    return Authenticator(keys, clock, **settings)  # type: ignore[arg-type]


def test_without_a_valid_key_a_closed_api_answers_401(keys: ApiKeys, clock: ManualClock) -> None:
    auth = _authenticator(keys, clock)
    with pytest.raises(UnauthorizedError) as missing:
        auth.tenant(None)
    assert missing.value.detail == MISSING_KEY
    with pytest.raises(UnauthorizedError) as invalid:
        auth.tenant("lgs-nothing")
    assert invalid.value.detail == INVALID_KEY
    made = keys.create("alice")
    assert auth.tenant(made.key) == "alice"


def test_configured_keys_open_their_tenant(keys: ApiKeys, clock: ManualClock) -> None:
    auth = _authenticator(keys, clock, configured={"k1": "bob"})
    assert auth.tenant("k1") == "bob"
    with pytest.raises(UnauthorizedError):
        auth.tenant("k2")


def test_an_open_api_serves_the_default_tenant_and_keys_their_own(
    keys: ApiKeys, clock: ManualClock
) -> None:
    auth = _authenticator(keys, clock, open_access=True)
    made = keys.create("alice")
    assert (auth.tenant(None), auth.tenant("junk"), auth.tenant(made.key)) == (
        "default",
        "default",
        "alice",
    )


def test_a_revoked_key_stops_opening_once_the_cache_expires(
    keys: ApiKeys, store: InMemoryStore, clock: ManualClock
) -> None:
    auth = _authenticator(keys, clock, cache_ttl=timedelta(seconds=30))
    made = keys.create("alice")
    assert auth.tenant(made.key) == "alice"
    keys.revoke(made.key)
    clock.time += timedelta(seconds=29)
    assert auth.tenant(made.key) == "alice"  # still cached
    clock.time += timedelta(seconds=2)
    with pytest.raises(UnauthorizedError):
        auth.tenant(made.key)


def test_lookups_are_cached_hits_and_misses_alike(
    keys: ApiKeys, store: InMemoryStore, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = keys.create("alice")
    reads: list[str] = []
    get = store.get
    monkeypatch.setattr(store, "get", lambda *a: reads.append(a[2]) or get(*a))
    auth = _authenticator(keys, clock)
    for _ in range(3):
        auth.tenant(made.key)
        with pytest.raises(UnauthorizedError):
            auth.tenant("lgs-unknown")
    assert reads == [key_hash(made.key), key_hash("lgs-unknown")]


def test_the_cache_may_not_outlive_a_minute(keys: ApiKeys, clock: ManualClock) -> None:
    with pytest.raises(ValueError):
        _authenticator(keys, clock, cache_ttl=timedelta(seconds=61))
