"""Rows measured inside this process: sends through the Lambda entry on moto (time and
DynamoDB requests per pattern), request cost against history length, and the SQLite
store's send time against the number of items stored."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.dynamo_meter import DynamoMeter, Tally
from bench.figures import Figure
from bench.lambda_events import LambdaContext, rest_event
from bench.patterns import PATTERNS, Call, build_group, send

TABLE = "bench"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Swallow the entry's log and EMF lines (still written, so still timed)."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


class _NoTableCopies:
    """moto's `copy` module as its DynamoDB models see it, but with tables not copied.

    moto copies every table a TransactWriteItems touches, to roll back if it fails, so
    each transaction costs time in proportion to the table: minutes per send at 10,000
    messages. The bench never loses a transaction (one writer, no races; a refused one
    would fail the run loudly), so it gives up the rollback copy to measure large tables
    at all. Request counts, units and bytes are unchanged by this."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def deepcopy(self, value: Any, *args: Any) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else self._real.deepcopy(value, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@contextlib.contextmanager
def _moto() -> Iterator[Any]:
    import moto.dynamodb.models as moto_models
    from moto import mock_aws

    if not isinstance(moto_models.copy, _NoTableCopies):
        moto_models.copy = _NoTableCopies(moto_models.copy)  # type: ignore[assignment]

    import boto3

    from infra.table_definition import create_table_kwargs

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**create_table_kwargs(TABLE))
        yield client


def _wait_idle(services: Any) -> None:
    launcher = services.runs.launcher
    if hasattr(launcher, "wait_idle"):
        assert launcher.wait_idle(timeout=120), "a background run did not finish"


# -- 1. per pattern, through the Lambda entry -----------------------------------------------


def lambda_patterns(sends: int) -> dict[str, dict[str, Any]]:
    """Per pattern: send time (ms) and per-send Tally, after one warm-up send. Requests of
    sleeptime's background run count with the send that started it."""
    saved = dict(os.environ)
    results: dict[str, dict[str, Any]] = {}
    for pattern in PATTERNS:  # a fresh table and container each: moto slows as it grows
        with _moto():
            os.environ.update(
                TABLE_NAME=TABLE,
                AWS_REGION="us-east-1",
                SERIALIZE_DYNAMODB_CALLS="true",  # moto is not thread-safe
                POWERTOOLS_SERVICE_NAME="bench",
                POWERTOOLS_METRICS_NAMESPACE="Bench",
                STORE_BACKEND="dynamodb",
            )
            from infra.settings import get_settings

            get_settings.cache_clear()
            sys.modules.pop("handler.lambda_entry", None)
            with _quiet():
                entry = importlib.import_module("handler.lambda_entry")
            services = entry.app.state.services
            meter = DynamoMeter(services.agents._store._client)  # noqa: SLF001
            call = _lambda_call(entry)
            group = build_group(call, pattern)
            send(call, group, "warm up")
            _wait_idle(services)
            times: list[float] = []
            tallies: list[Tally] = []
            for index in range(sends):
                meter.reset()
                start = time.perf_counter()
                reply = send(call, group, f"message {index}")
                times.append((time.perf_counter() - start) * 1000)
                _wait_idle(services)
                tallies.append(meter.reset())
            results[pattern] = {
                "ms": Figure.of(times),
                "requests": Figure.of([t.total_requests for t in tallies]),
                "steps": reply["usage"]["step_count"],
                "tallies": tallies,
            }
            sys.modules.pop("handler.lambda_entry", None)
    os.environ.clear()
    os.environ.update(saved)
    return results


def _lambda_call(entry: Any) -> Call:
    def call(method: str, path: str, body: Any = None) -> Any:
        with _quiet():
            response = entry.handler(rest_event(method, path, body), LambdaContext())
        if response["statusCode"] != 200:
            raise RuntimeError(f"{method} {path}: {response['statusCode']} {response['body']}")
        return json.loads(response["body"])

    return call


# -- 2. cost against history length ---------------------------------------------------------


def _testclient_call(client: Any, headers: dict[str, str]) -> Call:
    def call(method: str, path: str, body: Any = None) -> Any:
        response = client.request(method, path, json=body, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    return call


def _record_kinds() -> dict[str, Any]:
    import core.records as records

    return {
        cls.KIND: cls
        for cls in vars(records).values()
        if isinstance(cls, type) and issubclass(cls, records.Record) and "KIND" in vars(cls)
    }


def _copy_tenant(db_path: Path, tenant: str, client: Any, table: str) -> int:
    """Every record of one tenant from a SQLite store into a DynamoDB table, as the
    DynamoDB adapter lays it out; how many items."""
    from core.ports import Put
    from infra.dynamodb_store import DynamoDBStore

    kinds = _record_kinds()
    layout = DynamoDBStore(client, table)
    db = sqlite3.connect(db_path)
    rows = db.execute("SELECT kind, doc FROM records WHERE tenant = ?", (tenant,)).fetchall()
    rows += db.execute("SELECT kind, doc FROM children WHERE tenant = ?", (tenant,)).fetchall()
    db.close()
    batch: list[dict[str, Any]] = []
    for kind, doc in rows:
        record = kinds[kind].model_validate_json(doc)
        item = layout._operation(tenant, Put(record, None))["Put"]["Item"]  # noqa: SLF001
        batch.append({"PutRequest": {"Item": item}})
        if len(batch) == 25:
            client.batch_write_item(RequestItems={table: batch})
            batch = []
    if batch:
        client.batch_write_item(RequestItems={table: batch})
    return len(rows)


def history_rows(sizes: tuple[int, ...], sends: int) -> dict[int, dict[str, Any]]:
    """A round_robin-3 group with `size` earlier transcript messages (seeded on SQLite with
    50-message sends, then copied into moto): per send, its Tally."""
    from fastapi.testclient import TestClient

    from handler.app import create_app
    from handler.composition import build_services
    from infra.dynamodb_store import DynamoDBStore
    from infra.settings import Settings
    from infra.sqlite_store import SQLiteStore

    keys = ",".join(f"h{size}:key{size}" for size in sizes)
    settings = Settings(api_keys=keys, table_name=TABLE)
    results: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        db_path = Path(tmp) / "seed.sqlite3"
        seeding = build_services(settings, store=SQLiteStore(db_path))
        groups: dict[int, str] = {}
        with TestClient(create_app(seeding)) as client:
            for size in sizes:
                call = _testclient_call(client, {"Authorization": f"Bearer key{size}"})
                group = build_group(call, "round_robin-3")
                groups[size] = group
                while (held := _transcript_size(db_path, group)) < size:
                    batch = min(50, max(1, size - held - 3))
                    body = {
                        "messages": [{"role": "user", "content": f"m{i}"} for i in range(batch)]
                    }
                    call("POST", f"/v1/groups/{group}/messages", body)
        _wait_idle(seeding)
        for size in sizes:
            with _moto() as dynamodb:
                items = _copy_tenant(db_path, f"h{size}", dynamodb, TABLE)
                services = build_services(settings, store=DynamoDBStore(dynamodb, TABLE))
                meter = DynamoMeter(dynamodb)
                tallies: list[Tally] = []
                with TestClient(create_app(services)) as client:
                    call = _testclient_call(client, {"Authorization": f"Bearer key{size}"})
                    for index in range(sends):
                        meter.reset()
                        send(call, groups[size], f"after history {index}")
                        tallies.append(meter.reset())
                results[size] = {
                    "earlier": _transcript_size(db_path, groups[size]),
                    "items": items,
                    "tallies": tallies,
                }
    return results


def _transcript_size(db_path: Path, group_id: str) -> int:
    db = sqlite3.connect(db_path)
    try:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM children WHERE kind = 'transcript' AND parent_id = ?",
            (group_id,),
        ).fetchone()
    finally:
        db.close()
    return int(count)


# -- 3. the embedded store against what it holds ---------------------------------------------


def _fill(store: Any, items: int) -> None:
    """`items` stored messages of 100 agents that take no part in the sends."""
    from core.ports import Put
    from core.records import MessageRecord

    parents = [f"agent-{uuid.uuid4()}" for _ in range(100)]
    now = datetime.now(UTC)
    for start in range(0, items, 100):
        store.write(
            "default",
            [
                Put(
                    MessageRecord(
                        id=f"message-{uuid.uuid4()}",
                        created_at=now,
                        parent_id=parents[n % 100],
                        seq=n // 100 + 1,
                        role="user",
                        text=f"stored message {n} " + "x" * 200,
                    ),
                    None,
                )
                for n in range(start, min(start + 100, items))
            ],
        )


def embedded_store_rows(sizes: tuple[int, ...], sends: int) -> dict[int, Figure]:
    """Send time (ms) of a round_robin-3 group on the SQLite store holding `size` items."""
    from fastapi.testclient import TestClient

    from handler.app import create_app
    from handler.composition import build_services
    from infra.settings import Settings
    from infra.sqlite_store import SQLiteStore

    results: dict[int, Figure] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-embedded-") as tmp:
            store = SQLiteStore(Path(tmp) / "letta.sqlite3")
            _fill(store, size)
            services = build_services(Settings(), store=store)
            with TestClient(create_app(services)) as client:
                call = _testclient_call(client, {})
                group = build_group(call, "round_robin-3")
                send(call, group, "warm up")
                results[size] = Figure.of(_timed_sends(call, group, sends))
    return results


def _timed_sends(call: Call, group: str, sends: int) -> list[float]:
    times = []
    for index in range(sends):
        start = time.perf_counter()
        send(call, group, f"message {index}")
        times.append((time.perf_counter() - start) * 1000)
    return times


Timed = Callable[[Call, str, int], list[float]]
timed_sends: Timed = _timed_sends
