"""SSE framing, errors before and after the first frame, keep-alive pings and clients that
leave (SPEC §4)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sse_starlette import EventSourceResponse

from core.errors import ConflictError
from core.ids import MESSAGE, new_id
from core.schemas.messages import (
    AssistantMessage,
    LettaResponse,
    LettaStopReason,
    LettaUsageStatistics,
)
from handler.app import create_app
from handler.composition import Services, build_services
from handler.errors import install_error_handlers
from handler.sse import BUFFER, Emit, sse_frames, stream_send
from infra.launchers import InProcessLauncher
from infra.settings import Settings
from tests.conftest import Api
from tests.reference import openapi_document

DOC = openapi_document()
REGISTRY = Registry().with_resource(
    "ref", Resource.from_contents(DOC, default_specification=DRAFT202012)
)


def _validate(name: str, body: object) -> list[str]:
    validator = Draft202012Validator({"$ref": f"ref#/components/schemas/{name}"}, registry=REGISTRY)
    return [e.message for e in validator.iter_errors(body)]


def _frames(events: list) -> list[str]:
    text = b"".join(event.encode() for event in sse_frames(events)).decode()
    assert text.endswith("\n\n")
    return [chunk.removeprefix("data: ") for chunk in text.split("\n\n") if chunk]


def test_a_finished_send_ends_with_stop_reason_usage_and_done() -> None:
    done = LettaResponse(
        messages=[],
        stop_reason=LettaStopReason(stop_reason="end_turn"),
        usage=LettaUsageStatistics(step_count=1),
    )
    frames = _frames([("done", done)])
    assert frames[-1] == "[DONE]"
    assert json.loads(frames[0])["stop_reason"] == "end_turn"
    assert json.loads(frames[1])["message_type"] == "usage_statistics"


def test_a_failure_mid_stream_is_an_error_frame_then_a_stop_reason() -> None:
    for error in (ConflictError("busy"), RuntimeError("boom")):
        frames = _frames([("error", error)])
        error_frame = json.loads(frames[0])
        assert _validate("LettaErrorMessage", error_frame) == []
        assert error_frame["run_id"].startswith("run-")
        assert json.loads(frames[1]) == {"message_type": "stop_reason", "stop_reason": "error"}
        assert frames[-1] == "[DONE]"
    assert "boom" not in "".join(_frames([("error", RuntimeError("boom"))]))


# -- stream_send on a small app: scripted sends, the real error mapper --------------------------

STREAM_PATH = "/v1/groups/g/messages/stream"  # a send path: its 5xx carry x-should-retry
DONE = LettaResponse(
    messages=[],
    stop_reason=LettaStopReason(stop_reason="end_turn"),
    usage=LettaUsageStatistics(step_count=1),
)
Send = Callable[[Emit], LettaResponse]


def _message(text: str) -> AssistantMessage:
    return AssistantMessage(id=new_id(MESSAGE), date=datetime.now(UTC), content=text)


def _app(send: Send, ping_s: float = 15.0) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post(STREAM_PATH)
    async def route() -> EventSourceResponse:
        return await stream_send(send, ping_s=ping_s)

    return app


def _post(send: Send, ping_s: float = 15.0) -> httpx.Response:
    with TestClient(_app(send, ping_s), raise_server_exceptions=False) as client:
        return client.post(STREAM_PATH)


def _data(text: str) -> list[Any]:
    """The `data:` payloads of a body, comments skipped, [DONE] kept as a string."""
    data = [c.removeprefix("data: ") for c in text.split("\n\n") if c.startswith("data: ")]
    return [d if d == "[DONE]" else json.loads(d) for d in data]


def test_frames_on_the_wire_are_data_lines_ending_in_a_blank_line() -> None:
    first = _message("one")

    def send(emit: Emit) -> LettaResponse:
        emit([first])
        return DONE

    response = _post(send)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    body = json.dumps(first.model_dump(mode="json"), separators=(",", ":"))
    stop = '{"message_type":"stop_reason","stop_reason":"end_turn"}'
    usage = json.dumps(DONE.usage.model_dump(mode="json"), separators=(",", ":"))
    assert response.text == f"data: {body}\n\ndata: {stop}\n\ndata: {usage}\n\ndata: [DONE]\n\n"


def test_a_failure_before_the_first_frame_is_an_ordinary_http_error() -> None:
    def busy(emit: Emit) -> LettaResponse:
        raise ConflictError("busy")

    def broken(emit: Emit) -> LettaResponse:
        raise RuntimeError("boom")

    response = _post(busy)
    assert (response.status_code, response.json()) == (409, {"detail": "busy"})
    response = _post(broken)
    assert (response.status_code, response.json()) == (500, {"detail": "Internal server error"})
    assert response.headers["x-should-retry"] == "false"


def test_a_failure_after_the_first_frame_is_an_error_frame() -> None:
    def send(emit: Emit) -> LettaResponse:
        emit([_message("one")])
        raise ConflictError("went wrong")

    response = _post(send)
    assert response.status_code == 200
    message, error, stop, done = _data(response.text)
    assert message["content"] == "one"
    assert (error["message_type"], error["detail"]) == ("error_message", "went wrong")
    assert stop == {"message_type": "stop_reason", "stop_reason": "error"}
    assert done == "[DONE]"


def test_a_silent_send_gets_keep_alive_pings_between_frames() -> None:
    def slow(emit: Emit) -> LettaResponse:
        emit([_message("one")])
        time.sleep(0.5)
        emit([_message("two")])
        return DONE

    response = _post(slow, ping_s=0.05)
    chunks = [c for c in response.text.split("\n\n") if c]
    pings = [i for i, c in enumerate(chunks) if c == ": ping"]
    assert pings, response.text
    assert all(c == ": ping" or c.startswith("data: ") for c in chunks), chunks
    assert pings[0] > 0 and pings[-1] < len(chunks) - 1  # after "one", before [DONE]
    assert [d["content"] for d in _data(response.text)[:2]] == ["one", "two"]
    assert _data(response.text)[-1] == "[DONE]"


def _asgi_scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def leave_after_first_frame(
    app: Any,
    path: str,
    body: Any = None,
    *,
    stall: bool = False,
    leave_when: Callable[[], bool] = lambda: True,
    wait_for_frame: bool = True,
) -> list[bytes]:
    """Drive the app as a server would, for a client that disconnects once it has read the
    first `data:` frame (or at once) and `leave_when()` holds; with `stall` the client stops
    reading after that frame (its socket is full), as a vanished client does. Returns the
    chunks it got."""
    chunks: list[bytes] = []

    async def main() -> None:
        got_frame = anyio.Event()
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                raw = b"" if body is None else json.dumps(body).encode()
                return {"type": "http.request", "body": raw, "more_body": False}
            if wait_for_frame:
                await got_frame.wait()
            while not leave_when():
                await anyio.sleep(0.01)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                chunks.append(message["body"])
                if b"data: " in message["body"]:
                    got_frame.set()
                    if stall:
                        await anyio.sleep_forever()

        with anyio.fail_after(10):
            await app(_asgi_scope(path), receive, send)

    anyio.run(main)
    return chunks


def test_a_client_that_leaves_stops_the_stream_and_frees_the_send_thread() -> None:
    total = BUFFER * 4  # far more than the channel holds: the send must wait for room
    emitted: list[int] = []
    finished = threading.Event()

    def send(emit: Emit) -> LettaResponse:
        for i in range(total):
            emit([_message(str(i))])
            emitted.append(i)
        finished.set()
        return DONE

    last = {"count": -1.0, "since": 0.0}

    def send_is_stuck() -> bool:
        """The channel is full: the send waits for room and has not moved for 0.2 s."""
        seen, now = len(emitted), time.monotonic()
        if seen != last["count"]:
            last.update(count=seen, since=now)
            return False
        return seen >= BUFFER and now - last["since"] >= 0.2

    chunks = leave_after_first_frame(_app(send), STREAM_PATH, stall=True, leave_when=send_is_stuck)
    assert last["count"] < total  # the send was waiting mid-way when the client left
    assert finished.wait(timeout=10), "the send thread stayed blocked after the client left"
    assert len(emitted) == total  # the send ran to its end; what nobody read was dropped
    frames = [c for c in b"".join(chunks).decode().split("\n\n") if c]
    assert len(frames) == 1, frames


def test_a_client_that_leaves_at_once_frees_the_send_thread_too() -> None:
    finished = threading.Event()

    def send(emit: Emit) -> LettaResponse:
        for i in range(BUFFER * 4):
            emit([_message(str(i))])
        finished.set()
        return DONE

    chunks = leave_after_first_frame(_app(send), STREAM_PATH, wait_for_frame=False)
    assert finished.wait(timeout=10), "the send thread stayed blocked after the client left"
    assert b"[DONE]" not in b"".join(chunks)


# -- the real routes, on a slow offline model -------------------------------------------------


@pytest.fixture
def slow_services(settings: Settings) -> Iterator[Services]:
    """200 ms per model call and a ping every 50 ms: every send has silent stretches."""
    tuned = settings.model_copy(update={"offline_model_latency_ms": 200, "sse_ping_s": 0.05})
    built = build_services(tuned)
    yield built
    launcher = built.runs.launcher
    if isinstance(launcher, InProcessLauncher):
        assert launcher.wait_idle(timeout=30), "a background run did not finish"
        launcher.shutdown()


def test_a_slow_group_stream_carries_pings_and_still_parses(slow_services: Services) -> None:
    with TestClient(create_app(slow_services)) as client:
        api = Api(client)
        group = api.group([api.agent(f"m{i}")["id"] for i in range(2)])
        response = client.post(f"/v1/groups/{group['id']}/messages/stream", json={"input": "hi"})
    assert response.status_code == 200, response.text
    chunks = [c for c in response.text.split("\n\n") if c]
    assert ": ping" in chunks, chunks
    assert all(c == ": ping" or c.startswith("data: ") for c in chunks), chunks
    payloads = _data(response.text)
    kinds = [p["message_type"] for p in payloads[:-1]]
    assert kinds == ["reasoning_message", "assistant_message"] * 2 + [
        "stop_reason",
        "usage_statistics",
    ]
    assert payloads[-1] == "[DONE]"


def test_a_client_leaving_a_group_stream_leaves_the_send_complete(slow_services: Services) -> None:
    app = create_app(slow_services)
    with TestClient(app) as client:
        api = Api(client)
        members = [api.agent(f"m{i}")["id"] for i in range(3)]
        group_id = api.group(members)["id"]
    before = {t for t in threading.enumerate() if t.name == "stream-send"}
    chunks = leave_after_first_frame(
        app, f"/v1/groups/{group_id}/messages/stream", {"input": "hello"}
    )
    assert b"[DONE]" not in b"".join(chunks)
    for worker in {t for t in threading.enumerate() if t.name == "stream-send"} - before:
        worker.join(timeout=20)
        assert not worker.is_alive(), "the send thread did not finish after the client left"
    with TestClient(app) as client:
        listing = client.get(f"/v1/groups/{group_id}/messages", params={"order": "asc"}).json()
        # The whole send was committed: the input, then every member's reasoning and reply.
        assert [m["message_type"] for m in listing] == ["user_message"] + [
            "reasoning_message",
            "assistant_message",
        ] * 3
        # And the group was released: the next send goes through.
        again = client.post(f"/v1/groups/{group_id}/messages", json={"input": "again"})
        assert again.status_code == 200, again.text


def test_a_reader_that_stops_reading_releases_the_send_after_the_stall_limit() -> None:
    """A connected client that reads nothing must not hold the send (and the group's
    lease) for ever: once the buffer is full and nothing is taken for `stall_s`, the
    channel closes and every later put returns at once."""
    from anyio.lowlevel import current_token

    from handler.sse import BUFFER, Channel

    async def main() -> tuple[int, float]:
        channel = Channel(current_token(), stall_s=0.2)
        started = time.monotonic()
        with anyio.fail_after(10):  # without the stall limit, the 65th put never returns
            puts = await anyio.to_thread.run_sync(
                lambda: sum(1 for _ in range(BUFFER + 5) if channel.put(("messages", [])) is None),
                abandon_on_cancel=True,
            )
        return puts, time.monotonic() - started

    puts, took = anyio.run(main)
    assert puts == BUFFER + 5
    assert 0.2 <= took < 5
