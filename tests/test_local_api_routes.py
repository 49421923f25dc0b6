"""`make local-api` against `make run`: every route of the template answers the same through
the gateway stand-in as through the app itself, stream frames included, and a stream route's
frames leave as they are written (handler/local_api.py, Lambda Web Adapter functions)."""

from __future__ import annotations

import importlib
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import httpx
import pytest
from fastapi.testclient import TestClient
from mangum import Mangum
from moto import mock_aws

from handler.app import create_app
from handler.composition import build_services
from handler.local_api import AdaptedApp, LocalRestApi
from infra.launchers import InProcessLauncher
from infra.providers.router import ModelRouter
from infra.settings import Settings, get_settings
from infra.table_definition import create_table_kwargs
from infra.template_routes import read_api
from tests.conftest import TABLE
from tests.fakes import ScriptedModel
from tests.normalize import normalized
from tests.servers import free_port, serving, uvicorn_server

Call = Callable[..., Any]


@contextmanager
def fresh_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A moto table of its own, so both runs of the scenario start from nothing."""
    with mock_aws():
        boto3.client("dynamodb", region_name="us-east-1").create_table(**create_table_kwargs(TABLE))
        monkeypatch.setenv("TABLE_NAME", TABLE)
        monkeypatch.setenv("SERIALIZE_DYNAMODB_CALLS", "true")  # moto is not thread-safe
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        get_settings.cache_clear()
        try:
            yield
        finally:
            get_settings.cache_clear()


@contextmanager
def through_local_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """`make local-api`: the template's routes through the real Lambda entry (and the app
    behind the Web Adapter for StreamFunction)."""
    with fresh_table(monkeypatch):
        sys.modules.pop("handler.lambda_entry", None)
        entry = importlib.import_module("handler.lambda_entry")
        handlers = {"ApiFunction": entry.handler, "StreamFunction": AdaptedApp(entry.app)}
        try:
            with TestClient(LocalRestApi(read_api(), handlers)) as client:
                yield client
        finally:
            _drain(entry.app.state.services.runs.launcher)
            sys.modules.pop("handler.lambda_entry", None)


@contextmanager
def through_make_run(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """`make run`: the app served as it is, on the same settings."""
    with fresh_table(monkeypatch):
        services = build_services(get_settings())
        try:
            with TestClient(create_app(services)) as client:
                yield client
        finally:
            _drain(services.runs.launcher)


def _drain(launcher: object) -> None:
    if isinstance(launcher, InProcessLauncher):
        launcher.shutdown()


class Scenario:
    """Calls every route once (or more), recording what each answered, and which template
    routes (method, resource) it reached."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.answers: list[tuple[str, int, Any]] = []
        self.reached: set[tuple[str, str]] = set()

    def call(self, method: str, resource: str, path: str, **kwargs: Any) -> Any:
        response = self.client.request(method, path, **kwargs)
        self.reached.add((method, resource))
        is_stream = response.headers.get("content-type", "").startswith("text/event-stream")
        body = frames(response.text) if is_stream else response.json()
        self.answers.append((f"{method} {resource}", response.status_code, body))
        assert response.status_code < 500, (method, path, response.text)
        return body

    def finished(self, run_id: str) -> Any:
        """Wait for a background run to end (not recorded: the number of polls varies)."""
        deadline = time.monotonic() + 20
        while True:
            run = self.client.get(f"/v1/runs/{run_id}").json()
            if run["status"] not in ("created", "running"):
                return run
            assert time.monotonic() < deadline, run
            time.sleep(0.05)


def frames(text: str) -> list[Any]:
    """The data of each SSE frame, parsed where it is JSON."""
    data = [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]
    return [item if item == "[DONE]" else json.loads(item) for item in data]


def run_scenario(client: TestClient) -> Scenario:
    s = Scenario(client)
    s.call("GET", "/v1/health", "/v1/health/")
    block = s.call("POST", "/v1/blocks", "/v1/blocks/", json={"label": "notes", "value": "v"})
    s.call("GET", "/v1/blocks", "/v1/blocks/")
    s.call("GET", "/v1/blocks/{block_id}", f"/v1/blocks/{block['id']}")
    s.call("PATCH", "/v1/blocks/{block_id}", f"/v1/blocks/{block['id']}", json={"value": "w"})
    alice, bob, carol = (
        s.call("POST", "/v1/agents", "/v1/agents/", json={"name": name})["id"]
        for name in ("alice", "bob", "carol")
    )
    s.call("GET", "/v1/agents", "/v1/agents/")
    s.call("GET", "/v1/agents/{agent_id}", f"/v1/agents/{carol}")
    s.call("PATCH", "/v1/agents/{agent_id}", f"/v1/agents/{carol}", json={"description": "c"})
    s.call(
        "PATCH",
        "/v1/agents/{agent_id}/core-memory/blocks/attach/{block_id}",
        f"/v1/agents/{carol}/core-memory/blocks/attach/{block['id']}",
    )
    s.call(
        "GET", "/v1/agents/{agent_id}/core-memory/blocks", f"/v1/agents/{carol}/core-memory/blocks"
    )
    s.call(
        "GET",
        "/v1/agents/{agent_id}/core-memory/blocks/{block_label}",
        f"/v1/agents/{carol}/core-memory/blocks/notes",
    )
    s.call(
        "PATCH",
        "/v1/agents/{agent_id}/core-memory/blocks/{block_label}",
        f"/v1/agents/{carol}/core-memory/blocks/notes",
        json={"value": "carol's notes, changed"},
    )
    s.call("GET", "/v1/blocks/{block_id}/agents", f"/v1/blocks/{block['id']}/agents")
    s.call(
        "PATCH",
        "/v1/agents/{agent_id}/core-memory/blocks/detach/{block_id}",
        f"/v1/agents/{carol}/core-memory/blocks/detach/{block['id']}",
    )
    group = s.call(
        "POST", "/v1/groups", "/v1/groups/", json={"agent_ids": [alice, bob], "description": "d"}
    )
    g = f"/v1/groups/{group['id']}"
    s.call("GET", "/v1/groups", "/v1/groups/")
    s.call("GET", "/v1/groups/count", "/v1/groups/count")
    s.call("GET", "/v1/groups/{group_id}", g)
    s.call("PATCH", "/v1/groups/{group_id}", g, json={"description": "pair"})
    s.call("GET", "/v1/agents/{agent_id}/groups", f"/v1/agents/{alice}/groups")
    attach = "/v1/groups/{group_id}/blocks/attach/{block_id}"
    s.call("PATCH", attach, f"{g}/blocks/attach/{block['id']}")
    detach = "/v1/groups/{group_id}/blocks/detach/{block_id}"
    s.call("PATCH", detach, f"{g}/blocks/detach/{block['id']}")

    send = {"messages": [{"role": "user", "content": "hello there"}]}
    s.call("POST", "/v1/groups/{group_id}/messages", f"{g}/messages", json=send)
    stream = "/v1/groups/{group_id}/messages/stream"
    s.call("POST", stream, f"{g}/messages/stream", json=send)
    s.call("POST", stream, f"{g}/messages/stream", json={**send, "stream_tokens": True})
    listed = s.call("GET", "/v1/groups/{group_id}/messages", f"{g}/messages")
    first_user = next(m for m in listed if m["message_type"] == "user_message")
    s.call(
        "PATCH",
        "/v1/groups/{group_id}/messages/{message_id}",
        f"{g}/messages/{first_user['id']}",
        json={"message_type": "user_message", "content": "hello again"},
    )
    a = f"/v1/agents/{carol}"
    s.call("POST", "/v1/agents/{agent_id}/messages", f"{a}/messages", json=send)
    s.call("POST", "/v1/agents/{agent_id}/messages/stream", f"{a}/messages/stream", json=send)
    s.call("GET", "/v1/agents/{agent_id}/messages", f"{a}/messages")

    group_run = s.call(
        "POST", "/v1/groups/{group_id}/messages/async", f"{g}/messages/async", json=send
    )
    s.finished(group_run["id"])
    r = f"/v1/runs/{group_run['id']}"
    s.call("GET", "/v1/runs/{run_id}", r)
    s.call("GET", "/v1/runs/{run_id}/messages", f"{r}/messages")
    s.call("GET", "/v1/runs/{run_id}/usage", f"{r}/usage")
    s.call("GET", "/v1/runs/{run_id}/steps", f"{r}/steps")
    s.call("POST", "/v1/runs/{run_id}/stream", f"{r}/stream", json={})
    s.call("POST", "/v1/runs/{run_id}/stream", f"{r}/stream", json={"starting_after": 2})
    agent_run = s.call(
        "POST", "/v1/agents/{agent_id}/messages/async", f"{a}/messages/async", json=send
    )
    s.finished(agent_run["id"])
    s.call("GET", "/v1/runs", "/v1/runs/")
    s.call("GET", "/v1/runs/active", "/v1/runs/active")
    s.call("POST", "/v1/agents/{agent_id}/messages/cancel", f"{a}/messages/cancel", json={})
    s.call("POST", "/v1/groups/{group_id}/messages/cancel", f"{g}/messages/cancel", json={})
    s.call("DELETE", "/v1/runs/{run_id}", r)

    s.call("PATCH", "/v1/groups/{group_id}/reset-messages", f"{g}/reset-messages")
    s.call("DELETE", "/v1/groups/{group_id}", g)
    s.call("DELETE", "/v1/agents/{agent_id}", a)
    s.call("DELETE", "/v1/blocks/{block_id}", f"/v1/blocks/{block['id']}")
    return s


def test_every_route_answers_through_local_api_as_through_make_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with through_local_api(monkeypatch) as gateway:
        via_gateway = run_scenario(gateway)
    with through_make_run(monkeypatch) as client:
        via_app = run_scenario(client)
    template_routes = {(route.method, route.path) for route in read_api().routes}
    assert via_gateway.reached == template_routes, "a template route is missing here"
    gateway_answers = normalized(via_gateway.answers)
    app_answers = normalized(via_app.answers)
    for seen, expected in zip(gateway_answers, app_answers, strict=True):
        assert seen == expected
    streams = [body for label, _, body in via_gateway.answers if label.endswith("/stream")]
    assert streams and all(body[-1] == "[DONE]" for body in streams)


def test_stream_first_frame_arrives_before_the_last_agent_speaks(
    settings: Settings,
) -> None:
    """Through local-api on a real socket: the last of three agents' model call waits until
    the client holds a frame (or 20 s). Buffered, nothing would arrive before the send ends."""
    gate = threading.Event()
    offline = ModelRouter(settings)

    def held(request: Any) -> Any:
        gate.wait(timeout=20)
        return offline.complete(request)

    model = ScriptedModel(offline.complete, offline.complete, held)
    services = build_services(settings, model=model)
    app = create_app(services)
    handlers = {
        "ApiFunction": Mangum(app, lifespan="off"),
        "StreamFunction": AdaptedApp(app),
    }
    port = free_port()
    server = uvicorn_server(LocalRestApi(read_api(), handlers), port)
    try:
        with (
            serving(server),
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
        ):
            agents = [client.post("/v1/agents", json={"name": n}).json()["id"] for n in "abc"]
            group = client.post("/v1/groups", json={"agent_ids": agents, "description": "g"})
            assert group.status_code == 200, group.text
            path = f"/v1/groups/{group.json()['id']}/messages/stream"
            received: list[tuple[str, bool]] = []  # (frame, before the last agent spoke)
            with client.stream("POST", path, json={"input": "hi"}) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                assert "x-amzn-RequestId" in response.headers  # through the gateway
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        received.append((line, not gate.is_set()))
                        gate.set()
        assert received[0][1], "the first frame only came once the last agent had spoken"
        assert received[-1][0] == "data: [DONE]"
        assert len(model.requests) == 3
    finally:
        gate.set()
        _drain(services.runs.launcher)
