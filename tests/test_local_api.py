"""`make local-api`: template.yaml's REST API through the real Lambda entry, with API
Gateway's own answers for what it refuses (handler/local_api.py, infra/template_routes.py).

Served in-process through the ASGI app (Starlette's TestClient), on moto; limits that would
make tests slow (29 s, 6 MB) are constructor parameters or reached with fake handlers.
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient
from samtranslator.yaml_helper import yaml_parse

from handler.local_api import (
    LAMBDA_MAX_EVENT_BYTES,
    MAX_REQUEST_BYTES,
    AdaptedApp,
    LocalRestApi,
    import_handlers,
)
from infra.settings import get_settings
from infra.template_routes import ApiRoute, ApiSpec, FunctionSpec, read_api
from tests.conftest import TABLE
from tests.normalize import normalized

ROOT = Path(__file__).resolve().parent.parent
JSON = {"content-type": "application/json"}
MISSING_TOKEN = b'{"message":"Missing Authentication Token"}'
"""API Gateway's default body; the template's DEFAULT_4XX makes it `{"detail": ...}`."""


def template_shaped(response: Any, detail: str) -> bool:
    """The body the template's GatewayResponses give: the detail and the request id."""
    body = response.json()
    return body == {"detail": detail, "request_id": response.headers["x-amzn-requestid"]}


Event = dict[str, Any]


class Recorder:
    """A fake Lambda handler: keeps each (event, context) and answers a fixed response."""

    OK = {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": '{"ok": true}',
        "isBase64Encoded": False,
    }

    def __init__(self, response: Any = OK) -> None:
        self.calls: list[tuple[Event, Any]] = []
        self.response = response

    def __call__(self, event: Event, context: Any) -> Any:
        self.calls.append((event, context))
        return self.response


def echo_handler(event: Event, context: Any) -> dict[str, Any]:
    """Handler named in a test template: says which function got which resource."""
    body = {"function": "echo", "resource": event["resource"], "params": event["pathParameters"]}
    return {"statusCode": 200, "body": json.dumps(body)}


def other_handler(event: Event, context: Any) -> dict[str, Any]:
    body = {"function": context.function_name, "resource": event["resource"]}
    return {"statusCode": 201, "body": json.dumps(body)}


def both(handler: Any) -> dict[str, Any]:
    """template.yaml's two routed functions, both served by ``handler``: StreamFunction
    runs the same app as ApiFunction (locally through its Lambda entry too)."""
    return {"ApiFunction": handler, "StreamFunction": handler}


def served(app: LocalRestApi) -> TestClient:
    return TestClient(app, raise_server_exceptions=True)


def one_route_spec(timeout_s: float = 120.0, binary: tuple[str, ...] = ()) -> ApiSpec:
    route = ApiRoute("POST", "/v1/things/{thing_id}", "Fn", "dev")
    function = FunctionSpec("Fn", "tests.test_local_api.echo_handler", timeout_s, 128, ROOT)
    return ApiSpec((route,), {"Fn": function}, binary)


@pytest.fixture
def entry(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """handler.lambda_entry imported afresh inside the moto mock, as local-api imports it."""
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("SERIALIZE_DYNAMODB_CALLS", "true")  # moto is not thread-safe
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    get_settings.cache_clear()
    sys.modules.pop("handler.lambda_entry", None)
    yield importlib.import_module("handler.lambda_entry")
    sys.modules.pop("handler.lambda_entry", None)
    get_settings.cache_clear()


@pytest.fixture
def gateway(entry: ModuleType) -> Iterator[TestClient]:
    """local-api on template.yaml, its function the real Lambda entry."""
    handlers = {"ApiFunction": entry.handler, "StreamFunction": AdaptedApp(entry.app)}
    with served(LocalRestApi(read_api(), handlers)) as client:
        yield client


# --- routes come from the template ---------------------------------------------------


def test_routes_are_the_template_api_events() -> None:
    """Read independently with SAM's own YAML parser: same routes, functions and stage."""
    template = yaml_parse((ROOT / "template.yaml").read_text())
    expected = {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"], logical_id)
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "Api"
    }
    # The stream routes: the API's DefinitionBody, each integration naming its function.
    for path, operations in template["Resources"]["RestApi"]["Properties"]["DefinitionBody"][
        "paths"
    ].items():
        for method, operation in operations.items():
            uri = operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            assert "${StreamFunction.Arn}" in uri
            expected.add((method.upper(), path, "StreamFunction"))
    spec = read_api()
    assert {(r.method, r.path, r.function_id) for r in spec.routes} == expected
    assert len(spec.routes) == len(expected)
    streaming = {r.path for r in spec.routes if r.streaming}
    assert streaming == {p for _, p, f in expected if f == "StreamFunction"}
    assert all(r.timeout_s == 900 for r in spec.routes if r.streaming)
    assert all(r.timeout_s is None for r in spec.routes if not r.streaming)
    stage = template["Parameters"]["StageName"]["Default"]
    assert {r.stage for r in spec.routes} == {stage}
    function = spec.functions["ApiFunction"]
    assert function.handler == template["Resources"]["ApiFunction"]["Properties"]["Handler"]
    declared = {
        **template["Globals"]["Function"],
        **template["Resources"]["ApiFunction"]["Properties"],
    }
    assert function.timeout_s == declared["Timeout"]
    assert function.memory_mb == declared["MemorySize"]


def _concrete(path: str) -> str:
    """A request path for a template path: each `{x_id}` becomes a well-formed `x-<uuid4>`."""
    return re.sub(r"\{(\w+?)_id\}", lambda m: f"{m.group(1)}-{uuid.uuid4()}", path)


def test_every_template_route_reaches_the_app(gateway: TestClient) -> None:
    """Each route goes through the gateway to a route of the app: never the gateway's 403,
    never the app's own `Not Found`/405 for an unknown path or method.

    A REST API routes `/x/` to resource `/x` and keeps the slash in `path`; the app answers
    both spellings of the collection routes (SPEC §1), the others only without it.
    """
    collections = {"/v1/agents", "/v1/blocks", "/v1/groups"}
    for route in read_api().routes:
        body = {} if route.method in ("POST", "PATCH") else None
        path = _concrete(route.path)
        for sent in (path, path + "/"):
            response = gateway.request(route.method, sent, json=body)
            where = (route.method, sent, response.status_code, response.text[:200])
            assert "x-amzn-errortype" not in response.headers, where
            assert response.status_code not in (403, 405), where
            if sent == path or route.path in collections:
                assert response.json() != {"detail": "Not Found"}, where


def test_most_specific_resource_wins_and_methods_are_per_resource(gateway: TestClient) -> None:
    count = gateway.get("/v1/groups/count")
    assert count.status_code == 200 and isinstance(count.json(), int), count.text
    # /v1/groups/count is a resource of its own: PATCH is not declared on it, so the
    # gateway refuses it rather than trying /v1/groups/{group_id}.
    refused = gateway.patch("/v1/groups/count", json={})
    assert refused.status_code == 403
    assert template_shaped(refused, "Missing Authentication Token")


# --- the gateway's own answers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nope"), ("GET", "/"), ("PUT", "/v1/agents"), ("GET", "/v1/agents/a/b/c/d")],
)
def test_unknown_route_is_the_gateway_403(method: str, path: str) -> None:
    handler = Recorder()
    with served(LocalRestApi(read_api(), both(handler))) as client:
        response = client.request(method, path)
    assert response.status_code == 403
    assert template_shaped(response, "Missing Authentication Token")  # DEFAULT_4XX
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert uuid.UUID(response.headers["x-amzn-requestid"])
    assert handler.calls == []


def test_slow_function_gets_the_gateway_504_while_it_runs_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release, finished = threading.Event(), threading.Event()

    def slow(event: Event, context: Any) -> dict[str, Any]:
        release.wait(10)
        finished.set()
        return {"statusCode": 200, "body": "late"}

    app = LocalRestApi(one_route_spec(), {"Fn": slow}, gateway_timeout_s=0.5)
    with served(app) as client, caplog.at_level(logging.WARNING, logger="local_api"):
        started = time.monotonic()
        response = client.post("/v1/things/t-1")
        elapsed = time.monotonic() - started
        assert response.status_code == 504
        assert response.content == b'{"message": "Endpoint request timed out"}'
        assert response.headers["x-amzn-errortype"] == "InternalServerErrorException"
        assert 0.5 <= elapsed < 3, elapsed
        assert not finished.is_set()  # the function is still running in its thread
        release.set()
        assert finished.wait(5)
        time.sleep(0.05)
    assert any("finished request" in r.getMessage() for r in caplog.records), caplog.text


def test_the_templates_gateway_responses_shape_the_gateways_own_answers() -> None:
    """As deployed: 5xx as the template's INTEGRATION_TIMEOUT and DEFAULT_5XX say (JSON
    naming the long-send routes, x-should-retry: false), 4xx as its DEFAULT_4XX."""
    release = threading.Event()

    def slow(event: Event, context: Any) -> dict[str, Any]:
        release.wait(10)
        return Recorder.OK

    def failing(event: Event, context: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    answers = {}
    for name, handler, limits in (
        ("timeout", slow, {"gateway_timeout_s": 0.3}),
        ("error", failing, {}),
        ("too large", Recorder(), {"max_event_bytes": 500}),
    ):
        with served(LocalRestApi(read_api(), both(handler), **limits)) as client:
            answers[name] = client.post("/v1/agents/", json={"name": "x" * 600})
        release.set()

    timeout, error, too_large = answers["timeout"], answers["error"], answers["too large"]
    assert (timeout.status_code, error.status_code, too_large.status_code) == (504, 502, 413)
    for answer in (timeout, error):
        assert answer.headers["x-should-retry"] == "false"
        detail = answer.json()["detail"]
        assert "POST .../messages/stream" in detail and "POST .../messages/async" in detail
        assert answer.json()["request_id"] == answer.headers["x-amzn-requestid"]
    assert "29 s" in timeout.json()["detail"]
    assert template_shaped(too_large, "Request Too Long")
    assert "x-should-retry" not in too_large.headers  # it never reached the function


def test_function_timeout_shorter_than_the_gateway_is_a_502() -> None:
    """Lambda stops a function at its own Timeout: a function error, so API Gateway's 502."""
    release = threading.Event()

    def slow(event: Event, context: Any) -> dict[str, Any]:
        release.wait(10)
        return {"statusCode": 200, "body": ""}

    app = LocalRestApi(one_route_spec(timeout_s=0.3), {"Fn": slow}, gateway_timeout_s=5)
    with served(app) as client:
        response = client.post("/v1/things/t-1")
        release.set()
    assert (response.status_code, response.content) == (
        502,
        b'{"message": "Internal server error"}',
    )


def test_body_over_10_mb_is_refused_by_the_gateway() -> None:
    handler = Recorder()
    with served(LocalRestApi(one_route_spec(), {"Fn": handler})) as client:
        over = client.post("/v1/things/t-1", content=b"x" * (MAX_REQUEST_BYTES + 1))
    assert over.status_code == 413
    assert over.content == b"HTTP content length exceeded 10485760 bytes."
    assert over.headers["content-type"] == "text; charset=utf-8"
    assert handler.calls == []


def test_event_over_lambdas_6_mb_is_request_too_long() -> None:
    """Within the gateway's 10 MB but over Lambda's invoke limit once in the event."""
    handler = Recorder()
    with served(LocalRestApi(one_route_spec(), {"Fn": handler})) as client:
        near = client.post("/v1/things/t-1", content=b"x" * (LAMBDA_MAX_EVENT_BYTES - 4096))
        over = client.post("/v1/things/t-1", content=b"x" * LAMBDA_MAX_EVENT_BYTES)
    assert near.status_code == 200 and len(handler.calls) == 1
    assert over.status_code == 413
    assert over.content == b'{"message": "Request Too Long"}'
    assert over.headers["x-amzn-errortype"] == "BadRequestException"
    assert len(handler.calls) == 1


def test_small_request_limit_is_a_constructor_parameter() -> None:
    handler = Recorder()
    app = LocalRestApi(one_route_spec(), {"Fn": handler}, max_request_bytes=100)
    with served(app) as client:
        assert client.post("/v1/things/t", content=b"a" * 100).status_code == 200
        assert client.post("/v1/things/t", content=b"a" * 101).status_code == 413


def test_response_over_6_mb_becomes_the_gateway_502(caplog: pytest.LogCaptureFixture) -> None:
    big = Recorder({"statusCode": 200, "body": "x" * 6_300_000})
    app = LocalRestApi(one_route_spec(), {"Fn": big})
    with served(app) as client, caplog.at_level(logging.ERROR, logger="local_api"):
        response = client.post("/v1/things/t-1")
    assert (response.status_code, response.content) == (
        502,
        b'{"message": "Internal server error"}',
    )
    assert response.headers["x-amzn-errortype"] == "InternalServerErrorException"
    assert "6291556" in caplog.text and "response" in caplog.text


@pytest.mark.parametrize(
    "result",
    [None, {"body": "no status"}, {"statusCode": "200"}, {"statusCode": 200, "body": {"a": 1}}],
)
def test_malformed_proxy_response_is_a_502(result: Any) -> None:
    with served(LocalRestApi(one_route_spec(), {"Fn": Recorder(result)})) as client:
        response = client.post("/v1/things/t-1")
    assert (response.status_code, response.content) == (
        502,
        b'{"message": "Internal server error"}',
    )


def test_function_error_is_a_502() -> None:
    def failing(event: Event, context: Any) -> Any:
        raise RuntimeError("boom")

    with served(LocalRestApi(one_route_spec(), {"Fn": failing})) as client:
        response = client.post("/v1/things/t-1")
    assert response.status_code == 502


# --- the event and context the function gets -------------------------------------------


def test_path_query_headers_and_context_arrive_as_api_gateway_sends_them() -> None:
    handler = Recorder()
    with served(LocalRestApi(read_api(), both(handler))) as client:
        response = client.get(
            "/v1/groups/group-a%20b/messages/",
            params=[("limit", "5"), ("after", "a+b/c"), ("tag", "x"), ("tag", "y"), ("e", "")],
            headers=[("X-Multi", "1"), ("X-Multi", "2"), ("Accept", "application/json")],
        )
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True}
    assert uuid.UUID(response.headers["x-amzn-requestid"])
    [(event, context)] = handler.calls
    assert event["resource"] == "/v1/groups/{group_id}/messages"
    assert event["path"] == "/v1/groups/group-a%20b/messages/"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"group_id": "group-a b"}
    assert event["queryStringParameters"] == {"limit": "5", "after": "a+b/c", "tag": "y", "e": ""}
    assert event["multiValueQueryStringParameters"]["tag"] == ["x", "y"]
    assert event["multiValueHeaders"]["x-multi"] == ["1", "2"]
    assert event["headers"]["x-multi"] == "2"
    assert event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["body"] is None and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["stage"] == "prod"
    assert ctx["resourcePath"] == "/v1/groups/{group_id}/messages"
    assert ctx["httpMethod"] == "GET"
    assert ctx["path"] == "/prod/v1/groups/group-a%20b/messages/"
    assert ctx["requestId"] == response.headers["x-amzn-requestid"]
    assert ctx["identity"]["sourceIp"] == "testclient"
    assert context.function_name == "ApiFunction"
    assert context.memory_limit_in_mb == 1024
    assert uuid.UUID(context.aws_request_id)
    assert 110_000 < context.get_remaining_time_in_millis() <= 120_000  # Timeout: 120


def test_no_query_no_params_are_nulls_as_in_api_gateway() -> None:
    handler = Recorder()
    with served(LocalRestApi(read_api(), both(handler))) as client:
        client.get("/v1/health")
    [(event, _)] = handler.calls
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None


def test_text_bodies_pass_as_text_and_binary_bodies_as_base64() -> None:
    handler = Recorder()
    binary = b"\x89PNG\r\n\x1a\n\xff\x00 not utf-8"
    with served(LocalRestApi(one_route_spec(binary=("image/*",)), {"Fn": handler})) as client:
        client.post("/v1/things/t", json={"value": "héllo ✓"})
        client.post("/v1/things/t", content=binary, headers={"content-type": "text/plain"})
        client.post("/v1/things/t", content=b"GIF89a", headers={"content-type": "image/gif"})
    texts, raw, declared = (event for event, _ in handler.calls)
    assert texts["isBase64Encoded"] is False
    assert json.loads(texts["body"]) == {"value": "héllo ✓"}
    assert raw["isBase64Encoded"] is True and base64.b64decode(raw["body"]) == binary
    assert declared["isBase64Encoded"] is True
    assert base64.b64decode(declared["body"]) == b"GIF89a"


def test_base64_responses_are_binary_only_for_a_binary_first_accept_type() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\xff"
    image = Recorder(
        {
            "statusCode": 200,
            "headers": {"Content-Type": "image/png"},
            "body": base64.b64encode(png).decode(),
            "isBase64Encoded": True,
        }
    )
    with served(LocalRestApi(one_route_spec(binary=("image/png",)), {"Fn": image})) as client:
        as_binary = client.post("/v1/things/t", headers={"accept": "image/png, */*"})
        as_text = client.post("/v1/things/t", headers={"accept": "application/json, image/png"})
    assert as_binary.content == png
    assert as_text.content == base64.b64encode(png)


# --- through the real Lambda entry ------------------------------------------------------


def _group_send(client: TestClient) -> Any:
    agents = [
        client.post("/v1/agents/", json={"name": name}, headers=JSON).json()["id"]
        for name in ("alice", "bob")
    ]
    group = client.post("/v1/groups/", json={"agent_ids": agents, "description": "pair"}).json()
    sent = client.post(f"/v1/groups/{group['id']}/messages", json={"input": "hello there"})
    assert sent.status_code == 200, sent.text
    return sent.json()


def test_group_send_answers_as_make_run_does(gateway: TestClient, client: TestClient) -> None:
    through_gateway = _group_send(gateway)
    through_app = _group_send(client)
    assert normalized(through_gateway) == normalized(through_app)
    kinds = [m["message_type"] for m in through_gateway["messages"]]
    assert kinds == ["reasoning_message", "assistant_message"] * 2


def test_web_adapter_function_is_served_by_the_app_behind_the_adapter() -> None:
    spec = read_api()
    stream = spec.functions["StreamFunction"]
    assert stream.web_adapter and stream.handler == "run.sh"
    assert not spec.functions["ApiFunction"].web_adapter
    handlers = import_handlers(spec)
    entry = importlib.import_module("handler.lambda_entry")
    assert handlers["StreamFunction"] == AdaptedApp(entry.app)
    assert handlers["ApiFunction"] is entry.handler


def test_stream_route_answers_server_sent_events(gateway: TestClient) -> None:
    agent = gateway.post("/v1/agents/", json={"name": "solo"}).json()["id"]
    group = gateway.post("/v1/groups", json={"agent_ids": [agent], "description": "s"}).json()
    response = gateway.post(f"/v1/groups/{group['id']}/messages/stream", json={"input": "hi"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in response.text.split("\n\n") if f.startswith("data: ")]
    assert frames[-1] == "data: [DONE]"


def test_queries_and_base64_bodies_reach_the_app_intact(entry: ModuleType, tmp_path: Path) -> None:
    """With JSON declared binary, bodies travel base64-encoded; the app reads them unchanged."""
    template = tmp_path / "template.yaml"
    template.write_text(
        """
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties: {StageName: dev, BinaryMediaTypes: ["application~1json"]}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: handler.lambda_entry.handler
      CodeUri: @ROOT@
      Timeout: 10
      Events:
        Create: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /v1/blocks, Method: post}}
        List: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /v1/blocks, Method: get}}
""".replace("@ROOT@", str(ROOT))
    )
    spec = read_api(template)
    assert spec.binary_media_types == ("application/json",)
    events: list[Event] = []

    def spy(event: Event, context: Any) -> Any:
        events.append(event)
        return entry.handler(event, context)

    with served(LocalRestApi(spec, {"Fn": spy})) as client:
        for label in ("a", "b"):
            created = client.post("/v1/blocks/", json={"label": label, "value": "héllo ✓ 🚀"})
            assert created.status_code == 200, created.text
            assert created.json()["value"] == "héllo ✓ 🚀"
        page = client.get("/v1/blocks", params={"limit": "1", "label": "b"})
    assert events[0]["isBase64Encoded"] is True
    assert json.loads(base64.b64decode(events[0]["body"]))["value"] == "héllo ✓ 🚀"
    assert [b["label"] for b in page.json()] == ["b"]


def test_each_function_of_the_template_is_imported_and_served(tmp_path: Path) -> None:
    """A second function (its own Handler, Timeout, a greedy path, ANY) is served too."""
    template = tmp_path / "template.yaml"
    template.write_text(
        """
Globals:
  Function: {Timeout: 7}
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      Handler: tests.test_local_api.echo_handler
      CodeUri: @ROOT@
      Events:
        Get: {Type: Api, Properties: {Path: "/items/{item_id}", Method: get}}
        Special: {Type: Api, Properties: {Path: /items/special, Method: get}}
  Other:
    Type: AWS::Serverless::Function
    Properties:
      Handler: tests.test_local_api.other_handler
      CodeUri: @ROOT@
      Timeout: 3
      Events:
        Proxy: {Type: Api, Properties: {Path: "/files/{proxy+}", Method: any}}
""".replace("@ROOT@", str(ROOT))
    )
    spec = read_api(template)
    assert {f.logical_id: f.timeout_s for f in spec.functions.values()} == {"Echo": 7, "Other": 3}
    assert {r.stage for r in spec.routes} == {"Prod"}  # SAM's implicit API
    with served(LocalRestApi(spec, import_handlers(spec))) as client:
        item = client.get("/items/i-1").json()
        special = client.get("/items/special").json()
        deep = client.delete("/files/a/b%2Fc/d.txt")
        missing = client.get("/files")
    assert item == {
        "function": "echo",
        "resource": "/items/{item_id}",
        "params": {"item_id": "i-1"},
    }
    assert special["resource"] == "/items/special" and special["params"] is None
    assert deep.status_code == 201
    assert deep.json() == {"function": "Other", "resource": "/files/{proxy+}"}
    assert (missing.status_code, missing.content) == (403, MISSING_TOKEN)
