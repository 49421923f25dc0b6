"""Counts a DynamoDB client's requests, with the capacity units DynamoDB would charge and
the item bytes moved, through botocore's event hooks (moto's own unit figures are fake).

Units follow DynamoDB's on-demand rules from item sizes: a read unit per 4 KB read
strongly consistent (half for eventually consistent reads, each request at least one),
a write unit per 1 KB written, twice both inside transactions. A query is charged on the
items it returns (DynamoDB charges what it scanned before a filter: a lower bound there),
a delete as one unit (the old item's size is not seen).
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


def attribute_bytes(value: dict[str, Any]) -> int:
    """DynamoDB's size of one typed attribute value."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return (len(str(raw).lstrip("-").replace(".", "")) + 1) // 2 + 1
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + attribute_bytes(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + attribute_bytes(v) for k, v in raw.items())
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_bytes({kind[0]: v}) for v in raw)
    raise ValueError(f"Unknown attribute type {kind}")


def item_bytes(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + attribute_bytes(value) for name, value in item.items())


@dataclass
class Tally:
    requests: Counter[str] = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0
    bytes_read: int = 0
    bytes_written: int = 0

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


class DynamoMeter:
    """Attach to a boto3 DynamoDB client (or anything with its `meta.events`)."""

    def __init__(self, client: Any) -> None:
        self._lock = threading.Lock()
        self.tally = Tally()
        events = client.meta.events
        events.register("before-parameter-build.dynamodb", self._request)
        events.register("after-call.dynamodb", self._response)

    def reset(self) -> Tally:
        """The tally so far, and start a new one."""
        with self._lock:
            done, self.tally = self.tally, Tally()
        return done

    def _request(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        name = model.name
        context["bench_consistent"] = bool(params.get("ConsistentRead"))
        with self._lock:
            tally = self.tally
            tally.requests[name] += 1
            if name == "PutItem":
                size = item_bytes(params["Item"])
                tally.write_units += max(1, math.ceil(size / 1024))
                tally.bytes_written += size
            elif name == "DeleteItem":
                tally.write_units += 1
            elif name == "TransactWriteItems":
                for operation in params["TransactItems"]:
                    if "Put" in operation:
                        size = item_bytes(operation["Put"]["Item"])
                        tally.write_units += 2 * max(1, math.ceil(size / 1024))
                        tally.bytes_written += size
                    else:
                        tally.write_units += 2
            elif name == "BatchWriteItem":
                for requests in params["RequestItems"].values():
                    for request in requests:
                        size = item_bytes(request.get("PutRequest", {}).get("Item", {}))
                        tally.write_units += max(1, math.ceil(size / 1024))
                        tally.bytes_written += size

    def _response(
        self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        name = model.name
        with self._lock:
            tally = self.tally
            if name == "GetItem":
                size = item_bytes(parsed.get("Item") or {})
                units = max(1, math.ceil(size / 4096))
                tally.read_units += units if context.get("bench_consistent") else units / 2
                tally.bytes_read += size
            elif name == "BatchGetItem":
                for items in parsed.get("Responses", {}).values():
                    for item in items:
                        size = item_bytes(item)
                        tally.read_units += max(1, math.ceil(size / 4096))
                        tally.bytes_read += size
            elif name in ("Query", "Scan"):
                size = sum(item_bytes(item) for item in parsed.get("Items", []))
                units = max(1, math.ceil(size / 4096))
                tally.read_units += units if context.get("bench_consistent") else units / 2
                tally.bytes_read += size
            elif name == "TransactGetItems":
                for response in parsed.get("Responses", []):
                    size = item_bytes(response.get("Item") or {})
                    tally.read_units += 2 * max(1, math.ceil(size / 4096))
                    tally.bytes_read += size
