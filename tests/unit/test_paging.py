"""core.paging: the cursor rules every store follows, and DynamoDB agreeing with them."""

from __future__ import annotations

import itertools

import boto3
import pytest

from core.errors import BadRequestError
from core.filters import Equals
from core.paging import PageRequest, paginate
from core.ports import Put
from core.records import BlockRecord
from core.schemas.blocks import CreateBlock
from core.services.blocks import new_block_record
from infra.dynamodb_store import DynamoDBStore
from tests.conftest import TABLE
from tests.fakes import FakeClock, InMemoryStore

ITEMS = ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (PageRequest(limit=2), ["a", "b"]),
        (PageRequest(limit=2, order="desc"), ["e", "d"]),
        (PageRequest(limit=2, after="b"), ["c", "d"]),
        (PageRequest(limit=2, order="desc", after="d"), ["c", "b"]),
        (PageRequest(limit=2, before="d"), ["b", "c"]),
        (PageRequest(limit=2, order="desc", before="b"), ["d", "c"]),
        (PageRequest(limit=9, after="a", before="e"), ["b", "c", "d"]),
        (PageRequest(limit=9, after="e"), []),
    ],
)
def test_paginate(request_: PageRequest, expected: list[str]) -> None:
    assert paginate(ITEMS, request_, lambda x: x) == expected


def test_filter_hides_items_but_not_cursors() -> None:
    page = paginate(ITEMS, PageRequest(limit=2, after="b"), lambda x: x, lambda x: x != "c")
    assert page == ["d", "e"]
    hidden_cursor = paginate(
        ITEMS, PageRequest(limit=9, after="c"), lambda x: x, lambda x: x != "c"
    )
    assert hidden_cursor == ["d", "e"]


def test_unknown_cursor_is_rejected() -> None:
    with pytest.raises(BadRequestError):
        paginate(ITEMS, PageRequest(limit=2, after="zz"), lambda x: x)


def test_dynamodb_store_pages_like_the_reference(aws: None) -> None:
    """Every cursor combination gives the same page from DynamoDB as from core.paging."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    dynamo = DynamoDBStore(client, TABLE, query_page=2)
    memory = InMemoryStore()
    clock = FakeClock()
    labels = ["even", "odd"]
    records = [
        new_block_record(CreateBlock(label=labels[i % 2], value="v"), clock) for i in range(6)
    ]
    for store in (dynamo, memory):
        store.write("t", [Put(record, None) for record in records])
    ids = [r.id for r in records]
    for order, limit, after, before, filtered in itertools.product(
        ["asc", "desc"], [1, 2, 4], [None, *ids[::2]], [None, *ids[1::2]], [False, True]
    ):
        request = PageRequest(limit=limit, order=order, after=after, before=before)
        filters = (Equals("label", "odd"),) if filtered else ()
        got = [r.id for r in dynamo.list("t", BlockRecord, request, filters)]
        assert got == [r.id for r in memory.list("t", BlockRecord, request, filters)], request
