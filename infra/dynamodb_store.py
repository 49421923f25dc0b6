"""The Store port on one DynamoDB table (single-table design, keys declared in template.yaml).

Item layout:
  record   PK=T#<tenant>#<kind>#<id>  SK=#       GSI1PK=T#<tenant>#<kind>  GSI1SK=<created>#<id>
  child    PK=<parent's PK>  SK=<kind>#<seq, 12 digits>  GSI1PK=T#<tenant>#<kind>#<id>  GSI1SK=#
The record itself is the JSON document in `doc`; `version` backs optimistic writes; the
values its kind declares filterable (core.filters.projection: `f_<field>`, and
`f_<field>_lc` lower-cased for text search) sit beside it as top-level attributes, so list
filters run as a FilterExpression inside DynamoDB. An item written before those attributes
existed lacks the marker `fv` too: the expression lets such items through and the adapter
tests them in Python, so old records still list correctly until they are next written. GSI1
lists one kind of record per tenant in creation order, which is what every list route pages,
and finds a child (a message) by its id alone, which is what message cursors need. Children
sit in their parent's partition in order, so reading the newest N is one query whatever the
length of the history.
"""

from __future__ import annotations

import builtins
import functools
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as EndpointUnreachable
from pydantic import ValidationError

from core.errors import ConcurrentModificationError, ServiceUnavailableError
from core.filters import (
    ContainsText,
    Equals,
    Filter,
    HasAll,
    HasAny,
    IsFalse,
    IsTrue,
    Kept,
    OneOf,
    check_filters,
    matches,
    projection,
)
from core.paging import CursorWindow, PageRequest, cursor_window, unknown_cursor
from core.ports import Change, Delete, Put, StoreLimits, check_write
from core.records import ChildRecord, Record

R = TypeVar("R", bound=Record)
C = TypeVar("C", bound=ChildRecord)

RECORD_SK = "#"
TTL_ATTRIBUTE = "expires_at"
"""The table's TTL attribute (template.yaml's TimeToLiveSpecification)."""
GSI1 = "GSI1"
PROJECTED = "fv"
"""Marks an item written with its filter values beside it (see the module docstring)."""
_BATCH_GET_LIMIT = 100
_QUERY_PAGE = 100


def load(kind: type[R], item: Mapping[str, Any]) -> R:
    """The record an item holds. pydantic's JSON parser stops at 200 levels of nesting;
    a document deeper than that (stored before requests were bounded) is read with the
    standard parser instead, so it can still be shown, changed and deleted."""
    doc = item["doc"]["S"]
    try:
        return kind.model_validate_json(doc)
    except ValidationError as exc:
        if not any(error["type"] == "json_invalid" for error in exc.errors()):
            raise
        return kind.model_validate(json.loads(doc))


def record_pk(tenant: str, kind: str, record_id: str) -> str:
    return f"T#{tenant}#{kind}#{record_id}"


def listing_pk(tenant: str, kind: str) -> str:
    return f"T#{tenant}#{kind}"


def child_sk(kind: str, seq: int) -> str:
    return f"{kind}#{seq:012d}"


def listing_sk(record: Record) -> str:
    """Creation time at fixed width, then the id: sorts like (created_at, id)."""
    return f"{record.created_at.strftime('%Y-%m-%dT%H:%M:%S.%f')}#{record.id}"


class ClientProxy:
    """A boto3 client whose method calls all go through `_call` (what a subclass adds to
    every call); other attributes are the client's own."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.meta = client.meta

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute
        return functools.partial(self._call, attribute)

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return method(*args, **kwargs)


class SerializedClient(ClientProxy):
    """A client whose calls run one at a time.

    For DynamoDB emulators that are not thread-safe (moto copies whole tables inside
    TransactWriteItems), used by `make run` and the tests; real DynamoDB needs no such lock.
    """

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self._lock = threading.Lock()

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(*args, **kwargs)


UNAVAILABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
"""Error codes that say DynamoDB is throttling or failing, not that the request is wrong."""
RETRY_AFTER_S = 2


def unavailable(cause: Exception) -> ServiceUnavailableError:
    return ServiceUnavailableError(
        f"The database is throttled or unavailable ({type(cause).__name__}); retry shortly.",
        RETRY_AFTER_S,
    )


class OutageAwareClient(ClientProxy):
    """A client whose throttling and outage errors, once botocore's own retries are spent,
    arrive as ServiceUnavailableError (a 503 with Retry-After, not a 500)."""

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except ClientError as exc:
            if _is_outage(exc):
                raise unavailable(exc) from exc
            raise
        except (EndpointUnreachable, HTTPClientError) as exc:
            raise unavailable(exc) from exc


def _is_outage(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code", "")
    if code in UNAVAILABLE_CODES:
        return True
    reasons = exc.response.get("CancellationReasons") or []
    codes = {reason.get("Code") for reason in reasons} - {None, "None"}
    return code == "TransactionCanceledException" and codes == {"ThrottlingError"}


DYNAMODB_LIMITS = StoreLimits(
    max_changes_per_write=100, max_record_bytes=400_000, max_write_bytes=4_000_000
)
"""TransactWriteItems takes 100 items and 4 MB in all; an item holds at most 400 KiB
(409,600 bytes), which leaves 9,600 bytes for keys and attribute names beyond what
core.ports.record_bytes counts (and at most 100 such margins under the 4 MB)."""


class DynamoDBStore:
    """Implements core.ports.Store with a boto3 DynamoDB client."""

    limits = DYNAMODB_LIMITS
    # Annotations in this class body say builtins.list: a bare `list` after `def list`
    # would name the method, not the type.

    def __init__(self, client: Any, table_name: str, *, query_page: int = _QUERY_PAGE) -> None:
        """`query_page` is how many index entries one filtered list query reads at most
        (DynamoDB's Limit counts entries before the filter); tests make it small."""
        self._client = OutageAwareClient(client)
        self._table = table_name
        self._query_page = query_page

    def reconnect(self, client: Any) -> None:
        """Use a new client from now on (after a SnapStart restore: the snapshot's one holds
        connections that no longer exist)."""
        self._client = client

    # -- reads ---------------------------------------------------------------------------

    def get(self, tenant: str, kind: type[R], record_id: str) -> R | None:
        item = self._get_item(tenant, kind.KIND, record_id)
        return load(kind, item) if item else None

    def get_many(self, tenant: str, kind: type[R], record_ids: Sequence[str]) -> dict[str, R]:
        wanted = list(dict.fromkeys(record_ids))
        found: dict[str, R] = {}
        for start in range(0, len(wanted), _BATCH_GET_LIMIT):
            chunk = wanted[start : start + _BATCH_GET_LIMIT]
            keys = [self._key(tenant, kind.KIND, i) for i in chunk]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                answer = self._client.batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self._table, []):
                    record = load(kind, item)
                    found[record.id] = record
                request = answer.get("UnprocessedKeys") or {}
        return found

    def list(
        self,
        tenant: str,
        kind: type[R],
        page: PageRequest,
        filters: Sequence[Filter] = (),
    ) -> builtins.list[R]:
        check_filters(kind, filters)
        window = cursor_window(
            page, lambda cursor, name: self._cursor_sk(tenant, kind, cursor, name)
        )
        if window.is_empty:
            return []
        items = self._read_listing(tenant, kind.KIND, window, filters)
        return window.take(
            record
            for item in items
            for record in [load(kind, item)]
            if PROJECTED in item or matches(record, filters)
        )

    def count(self, tenant: str, kind: type[Record]) -> int:
        total: int = 0
        start_key: dict[str, Any] | None = None
        while True:
            args: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": GSI1,
                "KeyConditionExpression": "GSI1PK = :pk",
                "ExpressionAttributeValues": {":pk": {"S": listing_pk(tenant, kind.KIND)}},
                "Select": "COUNT",
            }
            if start_key:
                args["ExclusiveStartKey"] = start_key
            answer = self._client.query(**args)
            total += answer["Count"]
            start_key = answer.get("LastEvaluatedKey")
            if not start_key:
                return total

    def children(
        self,
        tenant: str,
        kind: type[C],
        parent_id: str,
        *,
        limit: int,
        after_seq: int | None = None,
        before_seq: int | None = None,
        newest_first: bool = False,
    ) -> builtins.list[C]:
        low = child_sk(kind.KIND, (after_seq or 0) + 1)
        high = child_sk(kind.KIND, before_seq - 1) if before_seq is not None else f"{kind.KIND}#~"
        if low > high:
            return []
        found: list[C] = []
        start_key = None
        while len(found) < limit:
            args: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "PK = :pk AND SK BETWEEN :low AND :high",
                "ExpressionAttributeValues": {
                    ":pk": {"S": record_pk(tenant, kind.PARENT_KIND, parent_id)},
                    ":low": {"S": low},
                    ":high": {"S": high},
                },
                "ScanIndexForward": not newest_first,
                "Limit": limit - len(found),
                "ConsistentRead": True,
            }
            if start_key:
                args["ExclusiveStartKey"] = start_key
            answer = self._client.query(**args)
            found.extend(load(kind, i) for i in answer.get("Items", []))
            start_key = answer.get("LastEvaluatedKey")
            if not start_key:
                break
        return found

    def get_child(self, tenant: str, kind: type[C], parent_id: str, seq: int) -> C | None:
        answer = self._client.get_item(
            TableName=self._table,
            Key={
                "PK": {"S": record_pk(tenant, kind.PARENT_KIND, parent_id)},
                "SK": {"S": child_sk(kind.KIND, seq)},
            },
            ConsistentRead=True,
        )
        item = answer.get("Item")
        return load(kind, item) if item else None

    def find_child(self, tenant: str, kind: type[C], child_id: str) -> C | None:
        answer = self._client.query(
            TableName=self._table,
            IndexName=GSI1,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues={":pk": {"S": f"T#{tenant}#{kind.KIND}#{child_id}"}},
            Limit=1,
        )
        items = answer.get("Items", [])
        return load(kind, items[0]) if items else None

    # -- writes --------------------------------------------------------------------------

    def write(self, tenant: str, changes: Sequence[Change]) -> None:
        check_write(changes, self.limits)
        if not changes:
            return
        operations = [self._operation(tenant, change) for change in changes]
        try:
            if len(operations) == 1:
                ((name, args),) = (next(iter(op.items())) for op in operations)
                call = {"Put": self._client.put_item, "Delete": self._client.delete_item}[name]
                call(**args)
            else:
                self._client.transact_write_items(TransactItems=operations)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in (
                "ConditionalCheckFailedException",
                "TransactionCanceledException",
                "TransactionConflictException",
            ):
                raise ConcurrentModificationError(
                    "A record changed while this request was writing it.",
                    _contended(exc.response, changes),
                ) from exc
            raise

    # -- helpers -------------------------------------------------------------------------

    def _key(self, tenant: str, kind: str, record_id: str) -> dict[str, Any]:
        return {"PK": {"S": record_pk(tenant, kind, record_id)}, "SK": {"S": RECORD_SK}}

    def _record_key(self, tenant: str, record: Record) -> dict[str, Any]:
        if isinstance(record, ChildRecord):
            return {
                "PK": {"S": record_pk(tenant, record.PARENT_KIND, record.parent_id)},
                "SK": {"S": child_sk(record.KIND, record.seq)},
            }
        return self._key(tenant, record.KIND, record.id)

    def _index_keys(self, tenant: str, record: Record) -> dict[str, Any]:
        if isinstance(record, ChildRecord):
            return {
                "GSI1PK": {"S": f"T#{tenant}#{record.KIND}#{record.id}"},
                "GSI1SK": {"S": RECORD_SK},
            }
        return {
            "GSI1PK": {"S": listing_pk(tenant, record.KIND)},
            "GSI1SK": {"S": listing_sk(record)},
        }

    def _get_item(self, tenant: str, kind: str, record_id: str) -> dict[str, Any] | None:
        answer = self._client.get_item(
            TableName=self._table, Key=self._key(tenant, kind, record_id), ConsistentRead=True
        )
        item: dict[str, Any] | None = answer.get("Item")
        return item

    def _cursor_sk(self, tenant: str, kind: type[Record], cursor: str, name: str) -> str:
        item = self._get_item(tenant, kind.KIND, cursor)
        if item is None:
            raise unknown_cursor(name, cursor)
        sort_key: str = item["GSI1SK"]["S"]
        return sort_key

    def _read_listing(
        self, tenant: str, kind: str, window: CursorWindow[str], filters: Sequence[Filter]
    ) -> Iterator[dict[str, Any]]:
        """Index entries of one kind strictly inside the window, in its direction, that
        pass the filters, page by page until the caller stops reading.

        Both bounds go in the key condition (BETWEEN includes them, so they are skipped
        here): with a filter, entries past a bound would otherwise be read and dropped
        unseen. DynamoDB's Limit counts entries before the filter, so a page can hold
        fewer matches than asked, or none, and reading goes on until the caller has its
        `limit` or the index ends."""
        condition = "GSI1PK = :pk"
        values: dict[str, Any] = {":pk": {"S": listing_pk(tenant, kind)}}
        low, high = window.low, window.high
        if low is not None and high is not None:
            condition += " AND GSI1SK BETWEEN :low AND :high"
            values[":low"], values[":high"] = {"S": low}, {"S": high}
        elif low is not None:
            condition += " AND GSI1SK > :low"
            values[":low"] = {"S": low}
        elif high is not None:
            condition += " AND GSI1SK < :high"
            values[":high"] = {"S": high}
        args: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": GSI1,
            "KeyConditionExpression": condition,
            "ScanIndexForward": not window.descending,
            # Unfiltered, the page is exactly what the caller keeps (and the two bounds).
            "Limit": max(window.limit, self._query_page) if filters else window.limit + 2,
        }
        if filters:
            expression, names, filter_values = filter_expression(filters)
            args["FilterExpression"] = expression
            args["ExpressionAttributeNames"] = names
            values.update(filter_values)
        args["ExpressionAttributeValues"] = values
        start_key = None
        while True:
            if start_key:
                args["ExclusiveStartKey"] = start_key
            answer = self._client.query(**args)
            for item in answer.get("Items", []):
                if item["GSI1SK"]["S"] not in (low, high):
                    yield item
            start_key = answer.get("LastEvaluatedKey")
            if not start_key:
                return

    def _operation(self, tenant: str, change: Change) -> dict[str, Any]:
        if isinstance(change, Delete):
            return {
                "Delete": {
                    "TableName": self._table,
                    "Key": self._record_key(tenant, change.record),
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeValues": {":expected": {"N": str(change.expected_version)}},
                }
            }
        assert isinstance(change, Put)
        record = change.record
        item = {
            **self._record_key(tenant, record),
            **self._index_keys(tenant, record),
            "kind": {"S": record.KIND},
            "version": {"N": str(record.version)},
            "doc": {"S": record.model_dump_json()},
            **{name: _attribute_value(value) for name, value in projection(record).items()},
            PROJECTED: {"N": "1"},
        }
        if record.expires_at is not None:
            # DynamoDB's TTL deletes the item some time after this epoch second.
            item[TTL_ATTRIBUTE] = {"N": str(int(record.expires_at.timestamp()))}
        put: dict[str, Any] = {"TableName": self._table, "Item": item}
        if change.expected_version is None:
            put["ConditionExpression"] = "attribute_not_exists(PK)"
        else:
            put["ConditionExpression"] = "version = :expected"
            put["ExpressionAttributeValues"] = {":expected": {"N": str(change.expected_version)}}
        return {"Put": put}


def _contended(response: Mapping[str, Any], changes: Sequence[Change]) -> tuple[str, ...]:
    """The records whose condition failed: every change for a single write, else those
    TransactWriteItems lists with a ConditionalCheckFailed cancellation reason."""
    reasons = response.get("CancellationReasons")
    if reasons is None:
        picked = list(changes)
    else:
        picked = [
            change
            for change, reason in zip(changes, reasons, strict=False)
            if reason.get("Code") == "ConditionalCheckFailed"
        ]
    return tuple(f"{c.record.KIND} {c.record.id}" for c in picked)


def filter_expression(
    filters: Sequence[Filter],
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """A FilterExpression (with its names and values) that keeps exactly the items whose
    kept values pass every filter, as core.filters' `test` methods decide in Python."""
    clauses: list[str] = []
    names: dict[str, str] = {}
    values: dict[str, Any] = {}

    def value(raw: Any) -> str:
        placeholder = f":f{len(values)}"
        values[placeholder] = raw
        return placeholder

    for index, condition in enumerate(filters):
        name = f"#f{index}"
        names[name] = condition.attribute
        if isinstance(condition, Equals):
            clauses.append(f"{name} = {value({'S': condition.value})}")
        elif isinstance(condition, OneOf):
            options = ", ".join(value({"S": v}) for v in condition.values)
            clauses.append(f"{name} IN ({options})")
        elif isinstance(condition, ContainsText):
            needle = condition.needle.lower()
            # Every string contains the empty one; DynamoDB refuses it as an operand.
            clauses.append(
                f"contains({name}, {value({'S': needle})})"
                if needle
                else f"attribute_type({name}, {value({'S': 'S'})})"
            )
        elif isinstance(condition, HasAny | HasAll):
            # contains() on a string would test a substring: insist on a list.
            joiner = " OR " if isinstance(condition, HasAny) else " AND "
            tests = joiner.join(f"contains({name}, {value({'S': v})})" for v in condition.values)
            clauses.append(f"(attribute_type({name}, {value({'S': 'L'})}) AND ({tests}))")
        elif isinstance(condition, IsTrue | IsFalse):
            clauses.append(f"{name} = {value({'BOOL': isinstance(condition, IsTrue)})}")
        else:  # pragma: no cover - a new filter kind must be taught to this adapter
            raise TypeError(f"No DynamoDB expression for {condition!r}")
    # Items written before filter values were kept are tested in Python (see `list`).
    kept = " AND ".join(clauses)
    if len(clauses) > 1 or not kept.startswith("("):
        kept = f"({kept})"  # DynamoDB refuses redundant parentheses: add them only once
    return f"attribute_not_exists({PROJECTED}) OR {kept}", names, values


def _attribute_value(value: Kept) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    return {"L": [{"S": item} for item in value]}
