"""The Store contract for API key records: every store keeps them as the key tool and the
authenticator use them (core.services.api_keys), in the partition no tenant can name.
The store fixtures are the contract suite's, so each test runs on every implementation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import ConcurrentModificationError
from core.ports import Put, Store
from core.records import AgentRecord
from core.services.api_keys import KEY_TENANT, ApiKeys, key_hash
from tests.contract import test_store_contract as contract

# The contract suite's fixtures: every Store implementation it runs, these tests run on.
dynamodb, table, store = contract.dynamodb, contract.table, contract.store


class SteppingClock:
    def __init__(self) -> None:
        self.time = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        self.time += timedelta(milliseconds=5)
        return self.time


def test_a_key_is_found_by_its_hash_listed_by_tenant_and_revoked(store: Store) -> None:
    keys = ApiKeys(store, SteppingClock())
    alice, bob = keys.create("alice", name="laptop"), keys.create("bob")
    assert (keys.tenant_for(alice.key), keys.tenant_for(bob.key)) == ("alice", "bob")
    assert [r.id for r in keys.list()] == [alice.record.id, bob.record.id]
    assert [r.name for r in keys.list("alice")] == ["laptop"]
    keys.revoke(alice.record.prefix)
    stored = store.get(KEY_TENANT, type(alice.record), key_hash(alice.key))
    assert stored is not None and stored.revoked_at is not None and stored.version == 2
    assert keys.tenant_for(alice.key) is None
    assert keys.tenant_for(bob.key) == "bob"


def test_key_records_stay_out_of_every_tenant(store: Store) -> None:
    keys = ApiKeys(store, SteppingClock())
    made = keys.create("alice")
    assert store.get("alice", type(made.record), made.record.id) is None
    assert store.count("alice", type(made.record)) == 0
    assert store.count(KEY_TENANT, AgentRecord) == 0


def test_a_key_hash_is_created_once(store: Store) -> None:
    keys = ApiKeys(store, SteppingClock())
    made = keys.create("alice")
    twin = made.record.model_copy(update={"tenant": "mallory"})
    with pytest.raises(ConcurrentModificationError):
        store.write(KEY_TENANT, [Put(twin, None)])
    assert keys.tenant_for(made.key) == "alice"
