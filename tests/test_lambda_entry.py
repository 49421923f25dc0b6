"""The Lambda entry point behind API Gateway REST (payload 1.0) and HTTP API (payload 2.0)."""

from __future__ import annotations

import base64
import gc
import importlib
import json
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infra.settings import get_settings
from tests.conftest import TABLE

HOST = "abc123.execute-api.us-east-1.amazonaws.com"
Event = dict[str, Any]


@dataclass
class FakeContext:
    function_name: str = "letta-groups-api"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:letta-groups-api"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/letta-groups-api"
    log_stream_name: str = "2026/01/01/[$LATEST]abc"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def entry(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A fresh import of handler.lambda_entry, its app built from env inside the moto mock."""
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("SERIALIZE_DYNAMODB_CALLS", "true")  # moto is not thread-safe
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "letta-groups")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "LettaGroupsTest")
    get_settings.cache_clear()
    sys.modules.pop("handler.lambda_entry", None)
    module = importlib.import_module("handler.lambda_entry")
    yield module
    sys.modules.pop("handler.lambda_entry", None)
    get_settings.cache_clear()
    gc.unfreeze()  # the import froze this test process's objects, as Lambda's init would


def rest_event(
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> Event:
    """API Gateway REST proxy integration (payload format 1.0), stage `Prod`."""
    all_headers = {"Host": HOST, "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443"}
    all_headers.update(headers or {})
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/Prod{path}",
            "stage": "Prod",
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": 1767225600000,
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "pytest"},
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def http_event(
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: str = "",
    base64_body: bool = False,
) -> Event:
    """API Gateway HTTP API (payload format 2.0), `$default` stage."""
    raw = None if body is None else json.dumps(body)
    if raw is not None and base64_body:
        raw = base64.b64encode(raw.encode()).decode()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": HOST, "x-forwarded-proto": "https", **(headers or {})},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": HOST,
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "pytest",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000,
        },
        "body": raw,
        "isBase64Encoded": base64_body,
    }


JSON = {"content-type": "application/json"}


def invoke(entry: ModuleType, event: Event) -> tuple[int, Any]:
    """Run the handler; check the result is a JSON response and return (status, body)."""
    result = entry.handler(event, FakeContext())
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    assert headers.get("content-type", "").startswith("application/json"), result
    assert result["isBase64Encoded"] is False
    return result["statusCode"], json.loads(result["body"])


BOTH = [pytest.param(rest_event, id="rest_v1"), pytest.param(http_event, id="http_v2")]
AGENT_BODY = {
    "name": "lambda-agent",
    "memory_blocks": [{"label": "human", "value": "Sam"}],
    "tags": ["lambda"],
}


def test_app_is_built_from_the_environment(entry: ModuleType) -> None:
    assert entry.app.state.services.settings.table_name == TABLE


def test_create_via_rest_then_fetch_via_both_payload_formats(
    entry: ModuleType, client: TestClient
) -> None:
    status, created = invoke(entry, rest_event("POST", "/v1/agents/", AGENT_BODY, JSON))
    assert status == 200, created
    assert (created["name"], created["tags"]) == ("lambda-agent", ["lambda"])
    url = f"/v1/agents/{created['id']}"
    via_rest = invoke(entry, rest_event("GET", url))
    via_http = invoke(entry, http_event("GET", url))
    assert via_rest == via_http == (200, created)
    # It really went to the configured table: the in-process app sees the same agent.
    assert client.get(url).json() == created


@pytest.mark.parametrize("make_event", BOTH)
def test_post_with_json_body_works_in_both_formats(entry: ModuleType, make_event: Any) -> None:
    status, created = invoke(entry, make_event("POST", "/v1/agents/", AGENT_BODY, JSON))
    assert status == 200, created
    assert created["id"].startswith("agent-")
    assert [b["value"] for b in created["memory"]["blocks"] if b["label"] == "human"] == ["Sam"]


def test_base64_encoded_body_from_http_api_is_decoded(entry: ModuleType) -> None:
    event = http_event("POST", "/v1/blocks/", {"label": "b", "value": "v"}, JSON, base64_body=True)
    status, block = invoke(entry, event)
    assert (status, block["label"], block["value"]) == (200, "b", "v")


def test_group_listing_same_with_and_without_slash_in_both_formats(entry: ModuleType) -> None:
    _, agent = invoke(entry, rest_event("POST", "/v1/agents/", AGENT_BODY, JSON))
    group_body = {"agent_ids": [agent["id"]], "description": "lambda group"}
    status, group = invoke(entry, http_event("POST", "/v1/groups", group_body, JSON))
    assert status == 200, group
    results = {
        (make.__name__, path): invoke(entry, make("GET", path))
        for make in (rest_event, http_event)
        for path in ("/v1/groups", "/v1/groups/")
    }
    assert all(result == (200, [group]) for result in results.values()), results


def test_query_string_is_honoured_in_both_formats(entry: ModuleType) -> None:
    for name in ("a", "b"):
        invoke(entry, rest_event("POST", "/v1/blocks/", {"label": name, "value": "v"}, JSON))
    _, rest_page = invoke(entry, rest_event("GET", "/v1/blocks/", query={"limit": "1"}))
    _, http_page = invoke(entry, http_event("GET", "/v1/blocks/", query="limit=1"))
    assert len(rest_page) == 1 and rest_page == http_page
    _, labelled = invoke(entry, http_event("GET", "/v1/blocks/", query="label=b"))
    assert [b["label"] for b in labelled] == ["b"]


@pytest.mark.parametrize("make_event", BOTH)
def test_json_body_without_content_type_is_read_as_json(entry: ModuleType, make_event: Any) -> None:
    """API Gateway's sample events send JSON with no Content-Type; it is still parsed,
    while a body declared as something else is refused."""
    status, body = invoke(entry, make_event("POST", "/v1/agents/", AGENT_BODY))
    assert status == 200, body
    assert body["name"] == AGENT_BODY["name"]
    plain = {"content-type": "text/plain"}
    status, body = invoke(entry, make_event("POST", "/v1/agents/", AGENT_BODY, headers=plain))
    assert status == 422, body


@pytest.mark.parametrize("make_event", BOTH)
def test_missing_resource_is_404_with_detail(entry: ModuleType, make_event: Any) -> None:
    absent = f"group-{uuid.uuid4()}"
    status, body = invoke(entry, make_event("GET", f"/v1/groups/{absent}"))
    assert status == 404
    assert set(body) == {"detail"} and absent in body["detail"]
    status, body = invoke(entry, make_event("GET", "/v1/no-such-route"))
    assert (status, body) == (404, {"detail": "Not Found"})


@pytest.mark.parametrize("make_event", BOTH)
def test_malformed_id_is_422_through_lambda(entry: ModuleType, make_event: Any) -> None:
    status, body = invoke(entry, make_event("DELETE", "/v1/agents/agent-XYZ"))
    assert status == 422
    assert [item["loc"] for item in body["detail"]] == [["path", "agent_id"]]


def test_http_api_stage_prefix_is_stripped_when_configured(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An HTTP API with a named stage puts the stage in rawPath; API_BASE_PATH strips it."""
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("SERIALIZE_DYNAMODB_CALLS", "true")  # moto is not thread-safe
    monkeypatch.setenv("API_BASE_PATH", "/prod")
    get_settings.cache_clear()
    sys.modules.pop("handler.lambda_entry", None)
    try:
        module = importlib.import_module("handler.lambda_entry")
        status, body = invoke(module, http_event("GET", "/prod/v1/health/"))
        assert (status, body["status"]) == (200, "ok")
    finally:
        sys.modules.pop("handler.lambda_entry", None)
        get_settings.cache_clear()


def test_stream_with_pings_parses_from_the_buffered_body(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mangum hands API Gateway the whole stream as one body; keep-alive comments ride along
    in it (a slow model, a 50 ms ping) and every `data:` frame still parses."""
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("SERIALIZE_DYNAMODB_CALLS", "true")  # moto is not thread-safe
    monkeypatch.setenv("OFFLINE_MODEL_LATENCY_MS", "200")
    monkeypatch.setenv("SSE_PING_S", "0.05")
    get_settings.cache_clear()
    sys.modules.pop("handler.lambda_entry", None)
    try:
        module = importlib.import_module("handler.lambda_entry")
        members = [
            invoke(module, rest_event("POST", "/v1/agents/", AGENT_BODY, JSON))[1]["id"]
            for _ in range(2)
        ]
        group_body = {"agent_ids": members, "description": "streamed"}
        _, group = invoke(module, rest_event("POST", "/v1/groups/", group_body, JSON))
        path = f"/v1/groups/{group['id']}/messages/stream"
        result = module.handler(rest_event("POST", path, {"input": "hi"}, JSON), FakeContext())
        headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        assert result["statusCode"] == 200, result
        assert headers["content-type"].startswith("text/event-stream")
        body = result["body"]
        if result["isBase64Encoded"]:
            body = base64.b64decode(body).decode()
        chunks = [c for c in body.split("\n\n") if c]
        assert ": ping" in chunks, chunks
        assert all(c == ": ping" or c.startswith("data: ") for c in chunks), chunks
        data = [c.removeprefix("data: ") for c in chunks if c.startswith("data: ")]
        assert data[-1] == "[DONE]"
        kinds = [json.loads(d)["message_type"] for d in data[:-1]]
        reply = ["reasoning_message", "assistant_message"]
        assert kinds == [*reply, *reply, "stop_reason", "usage_statistics"]
    finally:
        sys.modules.pop("handler.lambda_entry", None)
        get_settings.cache_clear()
