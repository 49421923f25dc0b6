"""The Store contract (core.ports.Store): every implementation answers these the same way.

Each test runs on the in-memory fake, on DynamoDBStore over moto and on SQLiteStore (the
store of `make run`), so what core's unit tests see on the fake is what the cloud and a
local server do. Item counts stay small: moto copies its
tables inside every TransactWriteItems.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from core import ids
from core.errors import (
    BadRequestError,
    ConcurrentModificationError,
    RecordTooLargeError,
    TooManyChangesError,
)
from core.filters import (
    ContainsText,
    Equals,
    Filter,
    HasAll,
    HasAny,
    IsFalse,
    IsTrue,
    OneOf,
)
from core.paging import PageRequest
from core.ports import Delete, DuplicateChangeError, Put, Store, record_bytes
from core.records import (
    AgentRecord,
    BlockRecord,
    GroupRecord,
    MessageRecord,
    RunRecord,
    TranscriptRecord,
)
from infra.dynamodb_store import DynamoDBStore, record_pk
from infra.sqlite_store import SQLiteStore
from infra.table_definition import create_table_kwargs
from tests.fakes import FakeClock, InMemoryStore

T = "tenant-a"
OTHER = "tenant-b"


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    """One moto for the module (starting it and a client costs more than a test)."""
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def table(dynamodb: Any) -> Iterator[str]:
    """A fresh table from template.yaml's definition for each test."""
    name = f"contract-{uuid.uuid4().hex[:12]}"
    dynamodb.create_table(**create_table_kwargs(name))
    yield name
    dynamodb.delete_table(TableName=name)


@pytest.fixture(params=["memory", "dynamodb", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "memory":
        return InMemoryStore()
    if request.param == "sqlite":
        return SQLiteStore(tmp_path / "store.sqlite3")
    client = request.getfixturevalue("dynamodb")
    # A small query page makes filtered lists read several pages, as big tables do.
    return DynamoDBStore(client, request.getfixturevalue("table"), query_page=2)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def block(
    clock: FakeClock, label: str = "label", value: str = "value", **fields: Any
) -> BlockRecord:
    return BlockRecord(
        id=ids.new_id(ids.BLOCK), created_at=clock.now(), label=label, value=value, **fields
    )


def agent(clock: FakeClock, name: str = "agent", **fields: Any) -> AgentRecord:
    return AgentRecord(
        id=ids.new_id(ids.AGENT),
        created_at=clock.now(),
        name=name,
        system="",
        agent_type="letta_v1_agent",
        model="offline/default",
        llm_config={},
        **fields,
    )


def group(clock: FakeClock, manager_type: str = "round_robin", **fields: Any) -> GroupRecord:
    return GroupRecord(
        id=ids.new_id(ids.GROUP),
        created_at=clock.now(),
        manager_type=manager_type,
        agent_ids=[],
        description="d",
        **fields,
    )


def message(
    clock: FakeClock, parent_id: str, seq: int, kind: type[MessageRecord] = MessageRecord
) -> MessageRecord:
    return kind(
        id=ids.new_id(ids.MESSAGE),
        created_at=clock.now(),
        parent_id=parent_id,
        seq=seq,
        role="user",
        text=f"message {seq}",
    )


def save(store: Store, *records: Any, tenant: str = T) -> None:
    """One write per record: single-item writes keep moto fast."""
    for record in records:
        store.write(tenant, [Put(record, None)])


def bumped(record: Any, **changes: Any) -> Any:
    """The next version of a record, as a use-case would write it."""
    return record.model_copy(update={"version": record.version + 1, **changes})


# -- reads and writes -----------------------------------------------------------------


def test_get_and_get_many_leave_missing_ids_out(store: Store, clock: FakeClock) -> None:
    a, b = block(clock), block(clock)
    save(store, a, b)
    missing = ids.new_id(ids.BLOCK)
    assert store.get(T, BlockRecord, a.id) == a
    assert store.get(T, BlockRecord, missing) is None
    assert store.get(T, AgentRecord, a.id) is None  # ids are per kind
    found = store.get_many(T, BlockRecord, [a.id, missing, b.id, a.id])
    assert found == {a.id: a, b.id: b}
    assert store.get_many(T, BlockRecord, []) == {}


def test_write_is_all_or_nothing_and_names_what_moved(store: Store, clock: FakeClock) -> None:
    a, b, c = block(clock), block(clock), block(clock)
    save(store, a, b)
    stale = [Put(bumped(a, value="a2"), 1), Put(bumped(b, value="b2"), 7), Put(c, None)]
    with pytest.raises(ConcurrentModificationError) as error:
        store.write(T, stale)
    assert error.value.contended == (f"block {b.id}",)
    assert store.get(T, BlockRecord, a.id) == a
    assert store.get(T, BlockRecord, c.id) is None

    store.write(T, [Put(bumped(a, value="a2"), 1), Put(bumped(b, value="b2"), 1)])
    assert store.get(T, BlockRecord, a.id).value == "a2"  # type: ignore[union-attr]
    assert store.get(T, BlockRecord, b.id).version == 2  # type: ignore[union-attr]


def test_every_failed_check_is_named(store: Store, clock: FakeClock) -> None:
    a, b, c = block(clock), block(clock), block(clock)
    save(store, a, b, c)
    with pytest.raises(ConcurrentModificationError) as error:
        store.write(T, [Put(bumped(a), 3), Put(bumped(b), 1), Delete(c, 5)])
    assert error.value.contended == (f"block {a.id}", f"block {c.id}")
    with pytest.raises(ConcurrentModificationError) as single:
        store.write(T, [Put(bumped(a), 9)])
    assert single.value.contended == (f"block {a.id}",)


def test_create_only_if_absent(store: Store, clock: FakeClock) -> None:
    a = block(clock)
    save(store, a)
    with pytest.raises(ConcurrentModificationError) as error:
        store.write(T, [Put(bumped(a, value="again"), None)])
    assert error.value.contended == (f"block {a.id}",)
    assert store.get(T, BlockRecord, a.id) == a


def test_delete_checks_the_version(store: Store, clock: FakeClock) -> None:
    a = block(clock)
    save(store, a)
    with pytest.raises(ConcurrentModificationError):
        store.write(T, [Delete(a, 2)])
    store.write(T, [Delete(a, 1)])
    assert store.get(T, BlockRecord, a.id) is None
    with pytest.raises(ConcurrentModificationError):
        store.write(T, [Delete(a, 1)])  # already gone


def test_an_empty_write_does_nothing(store: Store) -> None:
    store.write(T, [])


# -- limits -------------------------------------------------------------------------------


def test_too_many_changes_are_refused_whole(store: Store, clock: FakeClock) -> None:
    records = [block(clock) for _ in range(store.limits.max_changes_per_write + 1)]
    with pytest.raises(TooManyChangesError):
        store.write(T, [Put(r, None) for r in records])
    assert store.get_many(T, BlockRecord, [r.id for r in records]) == {}


def test_a_record_may_be_as_large_as_the_limit_and_no_larger(
    store: Store, clock: FakeClock
) -> None:
    parent = ids.new_id(ids.AGENT)
    fits = message(clock, parent, 1)
    fits.text = ""
    fits.text = "x" * (store.limits.max_record_bytes - record_bytes(fits))
    assert record_bytes(fits) == store.limits.max_record_bytes
    save(store, fits)
    assert store.get_child(T, MessageRecord, parent, 1) == fits

    too_big = message(clock, parent, 2)
    too_big.text = fits.text + "x"
    other = block(clock)
    with pytest.raises(RecordTooLargeError):
        store.write(T, [Put(other, None), Put(too_big, None)])
    assert store.get(T, BlockRecord, other.id) is None


def test_one_write_holds_at_most_the_write_byte_limit(store: Store, clock: FakeClock) -> None:
    """Records each within their own limit can still add up past what one atomic write
    takes (DynamoDB's 4 MB per transaction): refused whole, before anything is written."""
    parent = ids.new_id(ids.AGENT)
    each = store.limits.max_record_bytes - 1_000
    count = store.limits.max_write_bytes // each + 1
    records = []
    for seq in range(1, count + 1):
        record = message(clock, parent, seq)
        record.text = "x" * (each - record_bytes(record))
        records.append(record)
    with pytest.raises(RecordTooLargeError, match="written atomically"):
        store.write(T, [Put(r, None) for r in records])
    assert store.children(T, MessageRecord, parent, limit=count) == []
    save(store, *records[:-1])
    assert len(store.children(T, MessageRecord, parent, limit=count)) == count - 1


def test_kept_filter_values_count_towards_the_size(store: Store, clock: FakeClock) -> None:
    """A searchable text is kept twice (as is, and lower-cased for the search)."""
    half = store.limits.max_record_bytes // 2
    searchable = block(clock, value="x" * (half + 10))
    assert len(searchable.model_dump_json()) < store.limits.max_record_bytes
    with pytest.raises(RecordTooLargeError):
        save(store, searchable)


def test_one_write_changes_a_record_once(store: Store, clock: FakeClock) -> None:
    a, b = block(clock), block(clock)
    save(store, a)
    for changes in (
        [Put(b, None), Put(bumped(b), None)],
        [Put(bumped(a), 1), Delete(a, 1)],
    ):
        with pytest.raises(DuplicateChangeError):
            store.write(T, changes)
    # Two children at one seq of one parent are one record, whatever their ids.
    parent = ids.new_id(ids.AGENT)
    with pytest.raises(DuplicateChangeError):
        store.write(T, [Put(message(clock, parent, 1), None), Put(message(clock, parent, 1), None)])
    assert store.get(T, BlockRecord, b.id) is None
    assert store.get(T, BlockRecord, a.id) == a
    assert store.children(T, MessageRecord, parent, limit=5) == []


# -- tenants ------------------------------------------------------------------------------


def test_tenants_are_isolated(store: Store, clock: FakeClock) -> None:
    a = block(clock)
    parent = ids.new_id(ids.AGENT)
    child = message(clock, parent, 1)
    save(store, a, child)
    assert store.get(OTHER, BlockRecord, a.id) is None
    assert store.get_many(OTHER, BlockRecord, [a.id]) == {}
    assert store.list(OTHER, BlockRecord, PageRequest(limit=10)) == []
    assert store.count(OTHER, BlockRecord) == 0
    assert store.children(OTHER, MessageRecord, parent, limit=10) == []
    assert store.get_child(OTHER, MessageRecord, parent, 1) is None
    assert store.find_child(OTHER, MessageRecord, child.id) is None
    with pytest.raises(BadRequestError):
        store.list(OTHER, BlockRecord, PageRequest(limit=10, after=a.id))
    # The same record is created independently in each tenant.
    save(store, a, tenant=OTHER)
    store.write(OTHER, [Put(bumped(a, value="theirs"), 1)])
    assert store.get(T, BlockRecord, a.id) == a


# -- listing ------------------------------------------------------------------------------


@pytest.fixture
def five(store: Store, clock: FakeClock) -> list[str]:
    """Five blocks a..e, in creation order; returns their ids."""
    records = [block(clock, label=name) for name in "abcde"]
    save(store, *records)
    return [r.id for r in records]


@pytest.mark.parametrize(
    ("order", "limit", "after", "before", "expected"),
    [
        ("asc", 2, None, None, "ab"),
        ("desc", 2, None, None, "ed"),
        ("asc", 9, None, None, "abcde"),
        ("asc", 2, "b", None, "cd"),
        ("desc", 2, "d", None, "cb"),
        ("asc", 2, None, "d", "bc"),  # before alone walks backwards: nearest first
        ("desc", 2, None, "b", "dc"),
        ("asc", 9, "a", "e", "bcd"),
        ("desc", 9, "e", "a", "dcb"),
        ("asc", 9, "d", "b", ""),
        ("asc", 9, "e", None, ""),
        ("desc", 9, None, "e", ""),
        ("asc", 0, None, None, ""),
    ],
)
def test_list_pages_by_cursor(
    store: Store,
    five: list[str],
    order: str,
    limit: int,
    after: str | None,
    before: str | None,
    expected: str,
) -> None:
    by_name = dict(zip("abcde", five, strict=True))
    page = PageRequest(
        limit=limit,
        order=order,  # type: ignore[arg-type]
        after=by_name.get(after or ""),
        before=by_name.get(before or ""),
    )
    got = [r.label for r in store.list(T, BlockRecord, page)]
    assert "".join(got) == expected  # type: ignore[arg-type]


def test_walking_backwards_reaches_the_start(store: Store, five: list[str]) -> None:
    seen, before = [five[-1]], five[-1]
    while True:
        page = store.list(T, BlockRecord, PageRequest(limit=2, before=before))
        if not page:
            break
        seen = [r.id for r in page] + seen
        before = page[0].id
    assert seen == five


def test_unknown_cursors_are_bad_requests(store: Store, clock: FakeClock, five: list[str]) -> None:
    agent_record = agent(clock)
    save(store, agent_record)
    for page in (
        PageRequest(limit=2, after=ids.new_id(ids.BLOCK)),
        PageRequest(limit=2, before=ids.new_id(ids.BLOCK)),
        PageRequest(limit=2, after=agent_record.id),  # an item of another list
    ):
        with pytest.raises(BadRequestError):
            store.list(T, BlockRecord, page)


def test_count(store: Store, clock: FakeClock, five: list[str]) -> None:
    save(store, agent(clock))
    assert store.count(T, BlockRecord) == 5
    assert store.count(T, AgentRecord) == 1
    assert store.count(T, GroupRecord) == 0
    store.write(T, [Delete(store.get(T, BlockRecord, five[0]), 1)])  # type: ignore[arg-type]
    assert store.count(T, BlockRecord) == 4


# -- filters ------------------------------------------------------------------------------


@pytest.fixture
def blocks(store: Store, clock: FakeClock) -> dict[str, BlockRecord]:
    made = {
        "persona": block(
            clock,
            label="Persona",
            value="I am a Helpful assistant",
            tags=["red", "big"],
            is_template=True,
            template_name="tmpl",
        ),
        "human": block(clock, label="human", value="Likes tea", description="The User"),
        "notes": block(clock, label="notes", value="", tags=["red"], project_id="p1"),
        "plain": block(clock, label="plain", value="nothing", tags=[], description=""),
    }
    save(store, *made.values())
    return made


def _labels(store: Store, filters: list[Filter], **page: Any) -> list[str | None]:
    records = store.list(T, BlockRecord, PageRequest(limit=page.pop("limit", 10), **page), filters)
    return [r.label for r in records]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([Equals("label", "human")], ["human"]),
        ([Equals("label", "persona")], []),  # Equals is case-sensitive
        ([Equals("project_id", "p1")], ["notes"]),
        ([Equals("template_name", "tmpl")], ["Persona"]),
        ([ContainsText("label", "ERS")], ["Persona"]),  # ContainsText ignores case
        ([ContainsText("value", "helpful")], ["Persona"]),
        ([ContainsText("value", "")], ["Persona", "human", "notes", "plain"]),
        ([ContainsText("description", "")], ["human", "plain"]),  # has a text at all
        ([ContainsText("description", "user")], ["human"]),
        ([HasAny("tags", ("big", "green"))], ["Persona"]),
        ([HasAny("tags", ("red",))], ["Persona", "notes"]),
        ([HasAll("tags", ("red", "big"))], ["Persona"]),
        ([HasAll("tags", ("red", "green"))], []),
        ([IsTrue("is_template")], ["Persona"]),
        ([IsFalse("is_template")], ["human", "notes", "plain"]),
        ([OneOf("label", ("human", "notes", "nobody"))], ["human", "notes"]),
        ([OneOf("label", ("persona",))], []),  # OneOf is case-sensitive
        ([HasAny("tags", ("red",)), ContainsText("value", "tea")], []),  # all must hold
        ([HasAny("tags", ("red",)), Equals("project_id", "p1")], ["notes"]),
        ([], ["Persona", "human", "notes", "plain"]),
    ],
)
def test_each_filter_kind(
    store: Store, blocks: dict[str, BlockRecord], filters: list[Filter], expected: list[str]
) -> None:
    assert _labels(store, filters) == expected


def test_filters_on_agents_and_groups(store: Store, clock: FakeClock) -> None:
    alpha = agent(
        clock,
        name="Alpha",
        tags=["x"],
        echoed={
            "project_id": "p1",
            "identity_ids": ["id-1", "id-2"],
            "last_stop_reason": "end_turn",
        },
    )
    beta = agent(clock, name="beta", echoed={"project_id": "p2"})
    rr, sup = group(clock), group(clock, "supervisor", project_id="p1")
    save(store, alpha, beta, rr, sup)

    def names(*filters: Filter) -> list[str]:
        return [a.name for a in store.list(T, AgentRecord, PageRequest(limit=10), filters)]

    assert names(Equals("project_id", "p1")) == ["Alpha"]
    assert names(HasAny("identity_ids", ("id-2",))) == ["Alpha"]
    assert names(Equals("last_stop_reason", "end_turn")) == ["Alpha"]
    assert names(ContainsText("name", "ET")) == ["beta"]
    assert names(Equals("template_id", "t")) == []

    def groups(*filters: Filter) -> list[str]:
        return [g.id for g in store.list(T, GroupRecord, PageRequest(limit=10), filters)]

    assert groups(Equals("manager_type", "supervisor")) == [sup.id]
    assert groups(Equals("project_id", "p1"), Equals("manager_type", "round_robin")) == []


def test_a_filtered_page_holds_limit_matches_however_sparse(store: Store, clock: FakeClock) -> None:
    """DynamoDB's query Limit counts entries before the filter: the store reads on."""
    records = [block(clock, label="hit" if i in (0, 5, 6, 9) else "miss") for i in range(10)]
    save(store, *records)
    hits = [records[i].id for i in (0, 5, 6, 9)]
    only_hits = [Equals("label", "hit")]

    def page(**kwargs: Any) -> list[str]:
        request = PageRequest(**{"limit": 2, **kwargs})
        return [r.id for r in store.list(T, BlockRecord, request, only_hits)]

    assert page() == hits[:2]
    assert page(after=hits[1]) == hits[2:]
    assert page(order="desc") == [hits[3], hits[2]]
    # Cursors may name records the filter hides.
    assert page(after=records[1].id) == hits[1:3]
    assert page(before=records[8].id) == hits[1:3]
    assert page(after=records[1].id, before=records[6].id) == [hits[1]]
    assert page(order="desc", before=records[7].id, limit=9) == [hits[3]]


def test_an_undeclared_filter_is_refused(store: Store, blocks: dict[str, BlockRecord]) -> None:
    for undeclared in (Equals("value", "x"), IsTrue("read_only"), HasAny("label", ("x",))):
        with pytest.raises(ValueError, match="FILTERABLE"):
            store.list(T, BlockRecord, PageRequest(limit=10), [undeclared])


# -- children -----------------------------------------------------------------------------


@pytest.fixture
def family(store: Store, clock: FakeClock) -> tuple[str, list[MessageRecord]]:
    """Five messages of one agent, plus neighbours that must never mix in: another
    agent's message and a transcript entry of a group with the same id string."""
    parent = ids.new_id(ids.AGENT)
    mine = [message(clock, parent, seq) for seq in range(1, 6)]
    save(
        store,
        *reversed(mine),
        message(clock, ids.new_id(ids.AGENT), 3),
        message(clock, parent, 2, kind=TranscriptRecord),
    )
    return parent, mine


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"limit": 10}, [1, 2, 3, 4, 5]),
        ({"limit": 2}, [1, 2]),
        ({"limit": 0}, []),
        ({"limit": 10, "after_seq": 2}, [3, 4, 5]),
        ({"limit": 10, "before_seq": 4}, [1, 2, 3]),
        ({"limit": 10, "after_seq": 1, "before_seq": 5}, [2, 3, 4]),
        ({"limit": 10, "after_seq": 3, "before_seq": 4}, []),
        ({"limit": 10, "after_seq": 4, "before_seq": 2}, []),
        ({"limit": 10, "newest_first": True}, [5, 4, 3, 2, 1]),
        ({"limit": 2, "before_seq": 4, "newest_first": True}, [3, 2]),
        ({"limit": 2, "after_seq": 3, "newest_first": True}, [5, 4]),
        ({"limit": 10, "after_seq": 0}, [1, 2, 3, 4, 5]),
    ],
)
def test_children_in_order_within_bounds(
    store: Store,
    family: tuple[str, list[MessageRecord]],
    kwargs: dict[str, Any],
    expected: list[int],
) -> None:
    parent, _ = family
    assert [m.seq for m in store.children(T, MessageRecord, parent, **kwargs)] == expected


def test_get_child_and_find_child(store: Store, family: tuple[str, list[MessageRecord]]) -> None:
    parent, mine = family
    assert store.get_child(T, MessageRecord, parent, 3) == mine[2]
    assert store.get_child(T, MessageRecord, parent, 9) is None
    assert store.get_child(T, MessageRecord, ids.new_id(ids.AGENT), 3) is None
    assert store.get_child(T, TranscriptRecord, parent, 3) is None
    assert store.find_child(T, MessageRecord, mine[3].id) == mine[3]
    assert store.find_child(T, MessageRecord, ids.new_id(ids.MESSAGE)) is None
    assert store.get(T, MessageRecord, mine[3].id) is None  # children are not records


def test_children_are_versioned_at_their_seq(
    store: Store, clock: FakeClock, family: tuple[str, list[MessageRecord]]
) -> None:
    parent, mine = family
    store.write(T, [Put(bumped(mine[0], text="edited"), 1)])
    assert store.get_child(T, MessageRecord, parent, 1).text == "edited"  # type: ignore[union-attr]
    taken = message(clock, parent, 1)  # another id at a seq already taken
    with pytest.raises(ConcurrentModificationError):
        store.write(T, [Put(taken, None)])
    store.write(T, [Delete(mine[4], 1)])
    assert [m.seq for m in store.children(T, MessageRecord, parent, limit=10)] == [1, 2, 3, 4]


# -- DynamoDB's own layout ----------------------------------------------------------------


def test_dynamodb_item_carries_ttl_and_filter_attributes(
    dynamodb: Any, table: str, clock: FakeClock
) -> None:
    client = dynamodb
    store = DynamoDBStore(client, table)
    run = RunRecord(
        id=ids.new_id(ids.RUN),
        created_at=clock.now(),
        agent_id=ids.new_id(ids.AGENT),
        expires_at=clock.now() + timedelta(days=1),
    )
    tagged = block(clock, label="Mixed Case", tags=["a"], is_template=True)
    save(store, run, tagged)

    def item(kind: str, record_id: str) -> dict[str, Any]:
        key = {"PK": {"S": record_pk(T, kind, record_id)}, "SK": {"S": "#"}}
        return client.get_item(TableName=table, Key=key)["Item"]

    assert run.expires_at is not None
    assert item("run", run.id)["expires_at"] == {"N": str(int(run.expires_at.timestamp()))}
    kept = item("block", tagged.id)
    assert "expires_at" not in kept
    assert kept["f_label"] == {"S": "Mixed Case"}
    assert kept["f_label_lc"] == {"S": "mixed case"}
    assert kept["f_tags"] == {"L": [{"S": "a"}]}
    assert kept["f_is_template"] == {"BOOL": True}


def test_dynamodb_items_written_before_filter_values_still_filter_correctly(
    dynamodb: Any, table: str, clock: FakeClock
) -> None:
    """A table written by an older version has items without the kept filter values: they
    are tested in Python, so a filtered list neither drops nor wrongly keeps them."""
    client = dynamodb
    store = DynamoDBStore(client, table)
    old_match, old_miss, new = (block(clock, label=label) for label in ("keep", "drop", "keep"))
    save(store, old_match, old_miss, new)
    for old in (old_match, old_miss):
        key = {"PK": {"S": record_pk(T, "block", old.id)}, "SK": {"S": "#"}}
        stored = client.get_item(TableName=table, Key=key)["Item"]
        bare = {k: v for k, v in stored.items() if not k.startswith("f")}
        client.put_item(TableName=table, Item=bare)  # as the old code wrote it
    page = PageRequest(limit=10)
    found = store.list(T, BlockRecord, page, (Equals("label", "keep"),))
    assert [b.id for b in found] == [old_match.id, new.id]
    assert len(store.list(T, BlockRecord, page)) == 3
