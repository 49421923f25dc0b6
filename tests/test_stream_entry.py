"""StreamFunction's entry (handler/stream_entry.py): where it listens, and that uvicorn
serving the app hands each SSE frame on as it is written (what the Lambda Web Adapter
streams to API Gateway), not the whole body at the end as Mangum does."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from handler import stream_entry
from handler.app import create_app
from handler.composition import build_services
from handler.stream_entry import DEFAULT_PORT, ServerConfig, server_config
from infra.providers.router import ModelRouter
from infra.settings import Settings
from tests.fakes import ScriptedModel
from tests.servers import free_port, serving


@pytest.mark.parametrize(
    ("environ", "port"),
    [
        ({}, DEFAULT_PORT),
        ({"PORT": "8000"}, 8000),
        ({"AWS_LWA_PORT": "9000", "PORT": "8000"}, 9000),
    ],
)
def test_listens_where_the_web_adapter_sends_requests(environ: dict[str, str], port: int) -> None:
    assert DEFAULT_PORT == 8080  # the adapter's default AWS_LWA_PORT
    assert server_config(environ) == ServerConfig(host="127.0.0.1", port=port)


def test_main_serves_the_app_on_that_port(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[Any] = []
    monkeypatch.setenv("AWS_LWA_PORT", "8123")
    monkeypatch.setattr("handler.app.create_app", lambda: "the app")
    monkeypatch.setattr(stream_entry.uvicorn.Server, "run", lambda self: served.append(self))
    stream_entry.main()
    (server,) = served
    assert server.config.app == "the app"
    assert (server.config.host, server.config.port) == ("127.0.0.1", 8123)


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def test_the_first_frame_arrives_before_the_send_ends(
    settings: Settings, gate: threading.Event
) -> None:
    """A two-agent group: the second agent's model call waits until the client holds the
    first agent's frames (or 20 s). Buffered, nothing would arrive before it ends."""
    offline = ModelRouter(settings)

    def held(request: Any) -> Any:
        gate.wait(timeout=20)
        return offline.complete(request)

    model = ScriptedModel(offline.complete, held)
    services = build_services(settings, model=model)
    config = ServerConfig(host="127.0.0.1", port=free_port())
    base = f"http://{config.host}:{config.port}"
    try:
        with (
            serving(stream_entry.server(create_app(services), config)),
            httpx.Client(base_url=base, timeout=30) as client,
        ):
            agents = [client.post("/v1/agents/", json={"name": n}).json()["id"] for n in "ab"]
            group = client.post("/v1/groups/", json={"agent_ids": agents, "description": "g"})
            assert group.status_code == 200, group.text
            path = f"/v1/groups/{group.json()['id']}/messages/stream"
            frames: list[tuple[str, bool]] = []  # (frame, sent while the send still ran)
            with client.stream("POST", path, json={"input": "hi"}) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        frames.append((line, not gate.is_set()))
                        gate.set()
        assert frames[0][1], "the first frame only came once the send had ended"
        assert frames[-1][0] == "data: [DONE]"
        assert len(model.requests) == 2
    finally:
        gate.set()
