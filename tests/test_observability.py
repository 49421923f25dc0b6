"""Logs and metrics of one group send through the Lambda entry, as CloudWatch gets them:
JSON log lines carrying the request's ids, and EMF documents printed to stdout."""

from __future__ import annotations

import base64
import importlib
import json
import logging
import sys
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from handler.observability import APP_LOGGERS
from infra.settings import get_settings
from tests.conftest import TABLE
from tests.test_lambda_entry import JSON, FakeContext, rest_event


@pytest.fixture
def entry(
    capsys: pytest.CaptureFixture[str], aws: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleType]:
    """A fresh import of handler.lambda_entry; a service name of its own gives it a new
    Powertools logger (and handler), which the app's loggers get until the test ends."""
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("SERIALIZE_DYNAMODB_CALLS", "true")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", f"letta-groups-{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "LettaGroupsTest")
    saved = {
        name: (logger.handlers[:], logger.propagate, logger.level)
        for name in APP_LOGGERS
        for logger in [logging.getLogger(name)]
    }
    get_settings.cache_clear()
    sys.modules.pop("handler.lambda_entry", None)
    yield importlib.import_module("handler.lambda_entry")
    sys.modules.pop("handler.lambda_entry", None)
    get_settings.cache_clear()
    for name, (handlers, propagate, level) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers, logger.propagate = handlers, propagate
        logger.setLevel(level)


def call(entry: ModuleType, method: str, path: str, body: Any = None) -> tuple[str, Any]:
    """Invoke the entry; returns the event's API Gateway request id and the JSON body (of a
    stream: its stop reason and usage frames, as a plain send answers them)."""
    event = rest_event(method, path, body, JSON)
    result = entry.handler(event, FakeContext())
    assert result["statusCode"] < 300, result
    request_id = event["requestContext"]["requestId"]
    text = result["body"]
    if result["isBase64Encoded"]:
        text = base64.b64decode(text).decode()
    if not path.endswith("/stream"):
        return request_id, json.loads(text)
    frames = [
        json.loads(chunk.removeprefix("data: "))
        for chunk in text.split("\n\n")
        if chunk.startswith("data: {")
    ]
    kinds = {frame["message_type"]: frame for frame in frames}
    return request_id, {"stop_reason": kinds["stop_reason"], "usage": kinds["usage_statistics"]}


def printed(out: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The JSON documents on stdout: (log lines, EMF metric documents)."""
    documents = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    emf = [d for d in documents if "_aws" in d]
    return [d for d in documents if "_aws" not in d], emf


def points(emf: list[dict[str, Any]], name: str) -> list[tuple[float, dict[str, Any]]]:
    """Every data point of metric `name`: (value, its document)."""
    found = []
    for document in emf:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            if any(m["Name"] == name for m in directive["Metrics"]):
                value = document[name]
                for one in value if isinstance(value, list) else [value]:
                    found.append((float(one), document))
    return found


def dimensions(document: dict[str, Any]) -> dict[str, str]:
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    return {name: document[name] for names in directive["Dimensions"] for name in names}


@pytest.mark.parametrize(("mode", "route"), [("sync", "messages"), ("stream", "messages/stream")])
def test_a_round_robin_send_logs_its_ids_and_emits_its_metrics(
    entry: ModuleType, capsys: pytest.CaptureFixture[str], mode: str, route: str
) -> None:
    """The streamed send runs on a thread of its own: its lines carry the ids all the same."""
    for handler in entry.logger.handlers:  # capsys's stream starts with the test itself
        handler.stream = sys.stdout
    members = [
        call(entry, "POST", "/v1/agents/", {"name": name, "memory_blocks": []})[1]["id"]
        for name in ("ann", "bob")
    ]
    _, group = call(
        entry,
        "POST",
        "/v1/groups/",
        {
            "agent_ids": members,
            "description": "two",
            "manager_config": {"manager_type": "round_robin"},
        },
    )
    capsys.readouterr()  # only the send's output from here

    request_id, reply = call(
        entry, "POST", f"/v1/groups/{group['id']}/{route}", {"input": "hello both"}
    )
    out = capsys.readouterr().out
    logs, emf = printed(out)

    # Log lines: the core's lines carry the correlation id, the tenant and the group id;
    # an agent's turn also names its agent.
    assert all(line["correlation_id"] == request_id for line in logs)
    sends = [line for line in logs if line["message"] == "group send done"]
    assert len(sends) == 1
    assert sends[0]["tenant"] == "default" and sends[0]["group_id"] == group["id"]
    turns = [line for line in logs if line["message"] == "agent turn done"]
    assert sorted(line["agent_id"] for line in turns) == sorted(members)
    assert {(line["tenant"], line["group_id"]) for line in turns} == {("default", group["id"])}
    assert all(line["name"] == "core.runtime.agent_loop" for line in turns)
    assert all("function_request_id" in line for line in logs)

    # Metrics: one send, a turn per member, their stop reasons and tokens.
    assert all(d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "LettaGroupsTest" for d in emf)
    ((value, send),) = points(emf, "Sends")
    assert value == 1 and dimensions(send)["target"] == "group"
    assert dimensions(send)["mode"] == mode
    turn_points = points(emf, "Turns")
    assert [v for v, _ in turn_points] == [1, 1]
    assert {dimensions(d)["manager"] for _, d in turn_points} == {"round_robin"}
    stops = points(emf, "StopReasons")
    assert [v for v, _ in stops] == [1, 1]
    assert [dimensions(d)["reason"] for _, d in stops] == [reply["stop_reason"]["stop_reason"]] * 2
    token_metrics = {"PromptTokens": "prompt_tokens", "CompletionTokens": "completion_tokens"}
    for metric, usage_key in token_metrics.items():
        tokens = points(emf, metric)
        assert sorted(d["agent_id"] for _, d in tokens) == sorted(members)
        assert "agent_id" not in dimensions(tokens[0][1])  # metadata, not a dimension
        assert sum(v for v, _ in tokens) == reply["usage"][usage_key] > 0
    latencies = points(emf, "ModelLatency")
    assert len(latencies) >= 2
    assert {dimensions(d)["provider"] for _, d in latencies} == {"offline"}
    units = {d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] for _, d in latencies}
    assert units == {"Milliseconds"}


def test_ids_bound_in_a_context_reach_records_of_its_threads() -> None:
    """`in_context` carries the ids into a worker thread; ContextFields puts them on records."""
    from concurrent.futures import ThreadPoolExecutor

    from core.observability import bind, fields, in_context
    from handler.observability import ContextFields

    def record() -> logging.LogRecord:
        made = logging.LogRecord("core.x", logging.INFO, __file__, 1, "m", None, None)
        ContextFields().filter(made)
        return made

    with bind(tenant="t1", group_id="g1"), bind(agent_id="a1", run_id=None):
        assert fields() == {"tenant": "t1", "group_id": "g1", "agent_id": "a1"}
        with ThreadPoolExecutor(max_workers=1) as pool:
            carried = pool.submit(in_context(record)).result()
            bare = pool.submit(record).result()
    assert (carried.tenant, carried.group_id, carried.agent_id) == ("t1", "g1", "a1")  # type: ignore[attr-defined]
    assert not hasattr(bare, "tenant")
    assert fields() == {}
