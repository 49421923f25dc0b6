"""Async agent sends and the run routes through the app on moto: the Run answered at once,
its messages equal a synchronous send's, listing and filters, usage, streaming from the
middle, and cancellation between steps."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.llm import ChatRequest, ChatResponse, ModelClient, ToolCall, Usage
from handler.app import create_app
from handler.composition import Services, build_services
from infra.launchers import InProcessLauncher
from tests.api.test_response_schemas import assert_valid
from tests.conftest import Api


def _launcher(client: TestClient) -> InProcessLauncher:
    launcher = client.app.state.services.runs.launcher  # type: ignore[attr-defined]
    assert isinstance(launcher, InProcessLauncher)
    return launcher


def _finished(client: TestClient, run_id: str) -> dict[str, Any]:
    assert _launcher(client).wait_idle(timeout=30)
    return client.get(f"/v1/runs/{run_id}").json()


def _shape(messages: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """What a message says, without its ids, dates and run."""
    return [
        (m["message_type"], m.get("content") or m.get("reasoning") or m.get("tool_call"))
        for m in messages
    ]


def test_async_send_answers_with_a_run_whose_messages_equal_a_sync_send(
    api: Api, client: TestClient
) -> None:
    first, second = api.agent("twin"), api.agent("twin")
    sync = api.ok("POST", f"/v1/agents/{first['id']}/messages", json={"input": "hello there"})

    answer = client.post(f"/v1/agents/{second['id']}/messages/async", json={"input": "hello there"})
    run = assert_valid("POST", "/v1/agents/{agent_id}/messages/async", answer)
    assert run["id"].startswith("run-") and run["agent_id"] == second["id"]
    assert run["status"] in ("created", "running", "completed")

    done = _finished(client, run["id"])
    assert (done["status"], done["stop_reason"]) == ("completed", "end_turn")
    listed = client.get(f"/v1/runs/{run['id']}/messages").json()
    assert listed[0]["message_type"] == "user_message"  # the run's own input comes first
    assert _shape(listed[1:]) == _shape(sync["messages"])
    assert {m["run_id"] for m in listed} == {run["id"]}
    usage = assert_valid(
        "GET", "/v1/runs/{run_id}/usage", client.get(f"/v1/runs/{run['id']}/usage")
    )
    assert usage["total_tokens"] == sync["usage"]["total_tokens"] > 0


def test_async_sends_are_checked_like_sync_ones(api: Api, client: TestClient) -> None:
    agent = api.agent("checked")
    unknown = "agent-00000000-0000-4000-8000-000000000000"
    assert (
        client.post(f"/v1/agents/{unknown}/messages/async", json={"input": "x"}).status_code == 404
    )
    both = {"input": "x", "messages": [{"role": "user", "content": "y"}]}
    assert client.post(f"/v1/agents/{agent['id']}/messages/async", json=both).status_code == 422
    for url, reason in [
        ("http://example.com/hook", "only https"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("ftp://example.com/x", "not an http(s) URL"),
    ]:
        body = {"input": "x", "callback_url": url}
        refused = client.post(f"/v1/agents/{agent['id']}/messages/async", json=body)
        assert refused.status_code == 422 and reason in str(refused.json()), url
    assert client.get("/v1/runs/", params={"agent_id": agent["id"]}).json() == []


def test_runs_list_filters_by_agent_status_and_order(api: Api, client: TestClient) -> None:
    ann, bob = api.agent("ann"), api.agent("bob")
    made = [
        client.post(f"/v1/agents/{a['id']}/messages/async", json={"input": "go"}).json()["id"]
        for a in (ann, bob, ann)
    ]
    assert _launcher(client).wait_idle(timeout=30)
    listed = client.get("/v1/runs/", params={"agent_id": ann["id"]})
    assert [r["id"] for r in assert_valid("GET", "/v1/runs/", listed)] == [made[2], made[0]]
    oldest_first = client.get("/v1/runs", params={"agent_ids": [ann["id"]], "order": "asc"})
    assert [r["id"] for r in oldest_first.json()] == [made[0], made[2]]
    done = client.get("/v1/runs/", params={"statuses": ["completed"], "limit": 2}).json()
    assert [r["id"] for r in done] == [made[2], made[1]]
    assert client.get("/v1/runs/", params={"active": "true"}).json() == []
    assert client.get("/v1/runs/active").json() == []


class _Stepper:
    """A model that calls a harmless tool step after step, each call waiting for a go."""

    def __init__(self) -> None:
        self.go = threading.Semaphore(0)
        self.calls = 0

    def complete(self, request: ChatRequest) -> ChatResponse:
        assert self.go.acquire(timeout=10)
        self.calls += 1
        call = ToolCall(f"call-{self.calls}", "conversation_search", json.dumps({"query": "x"}))
        return ChatResponse(text=None, tool_calls=(call,), usage=Usage(5, 1))


@pytest.fixture
def stepper() -> _Stepper:
    return _Stepper()


def _stepping_client(services: Services, stepper: ModelClient) -> TestClient:
    """The app on the same table, with a model the test steps by hand."""
    return TestClient(create_app(build_services(services.settings, model=stepper)))


def test_a_cancelled_run_stops_between_steps_keeping_what_it_produced(
    services: Services, stepper: _Stepper
) -> None:
    client = _stepping_client(services, stepper)
    agent = client.post("/v1/agents/", json={"name": "busy"}).json()
    run = client.post(f"/v1/agents/{agent['id']}/messages/async", json={"input": "work"}).json()
    stepper.go.release()  # one step
    _wait_for(lambda: len(client.get(f"/v1/runs/{run['id']}/messages").json()) >= 3)
    other = client.post("/v1/agents/", json={"name": "other"}).json()
    not_theirs = client.post(
        f"/v1/agents/{other['id']}/messages/cancel", json={"run_ids": [run["id"]]}
    )
    assert not_theirs.json() == {run["id"]: "not_found"}
    cancelled = client.post(f"/v1/agents/{agent['id']}/messages/cancel", json={})
    assert cancelled.json() == {run["id"]: "cancelled"}
    stepper.go.release()  # lets a step that had already begun finish
    done = _finished(client, run["id"])
    assert (done["status"], done["stop_reason"]) == ("cancelled", "cancelled")
    assert stepper.calls <= 2
    kinds = [m["message_type"] for m in client.get(f"/v1/runs/{run['id']}/messages").json()]
    assert kinds[:3] == ["user_message", "tool_call_message", "tool_return_message"]


def test_a_run_stream_from_the_middle_yields_exactly_the_rest(api: Api, client: TestClient) -> None:
    agent = api.agent("talker")
    run = client.post(f"/v1/agents/{agent['id']}/messages/async", json={"input": "hi"}).json()
    _finished(client, run["id"])
    whole = _frames(client.post(f"/v1/runs/{run['id']}/stream", json={}).text)
    assert [f["message_type"] for f in whole[-2:]] == ["stop_reason", "usage_statistics"]
    messages = whole[:-2]
    assert len(messages) >= 3
    middle = messages[0]["seq_id"]
    rest = _frames(
        client.post(f"/v1/runs/{run['id']}/stream", json={"starting_after": middle}).text
    )
    assert rest[:-2] == [m for m in messages if m["seq_id"] > middle]
    unknown = "run-00000000-0000-4000-8000-000000000000"
    assert client.post(f"/v1/runs/{unknown}/stream", json={}).status_code == 404


def _frames(body: str) -> list[dict[str, Any]]:
    data = [line[6:] for line in body.splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    return [json.loads(d) for d in data[:-1]]


def _wait_for(condition: Any, timeout: float = 10) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_a_retried_async_send_gets_the_same_run(api: Api, client: TestClient) -> None:
    agent = api.agent("once")
    path = f"/v1/agents/{agent['id']}/messages/async"
    headers = {"Idempotency-Key": "async-retry-1", "x-stainless-retry-count": "1"}
    first = client.post(path, json={"input": "only once"}, headers=headers).json()
    again = client.post(path, json={"input": "only once"}, headers=headers).json()
    assert again["id"] == first["id"]
    _finished(client, first["id"])
    assert [r["id"] for r in client.get("/v1/runs/", params={"agent_id": agent["id"]}).json()] == [
        first["id"]
    ]
    changed = client.post(path, json={"input": "something else"}, headers=headers)
    assert changed.status_code == 422


def _trio(api: Api, name: str) -> str:
    """Three members named alike in every trio, so their prompts (and tokens) match."""
    members = [api.agent(f"member-{n}")["id"] for n in ("a", "b", "c")]
    return api.group(members, description=name)["id"]


def test_an_async_group_send_lists_what_the_sync_send_answers(api: Api, client: TestClient) -> None:
    sync_group, async_group = _trio(api, "sync"), _trio(api, "async")
    sync = api.ok("POST", f"/v1/groups/{sync_group}/messages", json={"input": "plan it"})

    answer = client.post(f"/v1/groups/{async_group}/messages/async", json={"input": "plan it"})
    run = assert_valid("POST", "/v1/agents/{agent_id}/messages/async", answer)
    done = _finished(client, run["id"])
    assert (done["status"], done["stop_reason"]) == ("completed", "end_turn")
    assert done["metadata"]["group_id"] == async_group

    listed = client.get(f"/v1/runs/{run['id']}/messages").json()

    def said(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
        # Replies quote names and inputs: compare who spoke and what kind of message.
        return [(m["message_type"], m["name"].split("-")[1]) for m in messages]

    assert said(listed) == said(sync["messages"])
    assert {m["run_id"] for m in listed} == {run["id"]}
    transcript = client.get(f"/v1/groups/{async_group}/messages", params={"limit": 50}).json()
    assert {m["id"] for m in listed} <= {m["id"] for m in transcript}
    usage = client.get(f"/v1/runs/{run['id']}/usage").json()
    assert usage["total_tokens"] == sync["usage"]["total_tokens"]
    # Cursors page the run's own log; a stream from the middle yields exactly the rest.
    page = client.get(f"/v1/runs/{run['id']}/messages", params={"limit": 2}).json()
    rest = client.get(
        f"/v1/runs/{run['id']}/messages", params={"after": page[-1]["id"], "limit": 50}
    ).json()
    assert [m["id"] for m in page + rest] == [m["id"] for m in listed]
    middle = listed[1]["seq_id"]
    streamed = _frames(
        client.post(f"/v1/runs/{run['id']}/stream", json={"starting_after": middle}).text
    )
    assert [f["id"] for f in streamed[:-2]] == [m["id"] for m in listed if m["seq_id"] > middle]


def test_an_async_group_send_is_checked_like_a_sync_one(api: Api, client: TestClient) -> None:
    group = _trio(api, "checked")
    unknown = "group-00000000-0000-4000-8000-000000000000"
    missing = client.post(f"/v1/groups/{unknown}/messages/async", json={"input": "x"})
    assert missing.status_code == 404
    empty = api.group([], description="empty")["id"]
    empty_send = client.post(f"/v1/groups/{empty}/messages/async", json={"input": "x"})
    assert empty_send.status_code == 400
    assert client.post(f"/v1/groups/{group}/messages/async", json={}).status_code == 422


def test_a_cancelled_group_run_stops_between_turns(services: Services, stepper: _Stepper) -> None:
    class Answering(_Stepper):
        called = threading.Event()

        def complete(self, request: ChatRequest) -> ChatResponse:
            self.called.set()
            assert self.go.acquire(timeout=10)
            self.calls += 1
            return ChatResponse(text=f"reply {self.calls}", usage=Usage(5, 1))

    model = Answering()
    client = _stepping_client(services, model)
    members = [client.post("/v1/agents/", json={"name": n}).json()["id"] for n in "xyz"]
    group = client.post("/v1/groups/", json={"agent_ids": members, "description": "d"}).json()
    run = client.post(f"/v1/groups/{group['id']}/messages/async", json={"input": "go"}).json()
    assert model.called.wait(timeout=10)  # the run holds the group and waits on its model
    busy = client.post(f"/v1/groups/{group['id']}/messages/async", json={"input": "too"})
    assert busy.status_code == 409  # the first send holds the group
    model.go.release()  # the first member answers
    _wait_for(lambda: len(client.get(f"/v1/runs/{run['id']}/messages").json()) >= 1)
    cancelled = client.post(f"/v1/groups/{group['id']}/messages/cancel", json={})
    assert cancelled.json() == {run["id"]: "cancelled"}
    model.go.release()  # in case the second member's turn had already begun
    done = _finished(client, run["id"])
    assert (done["status"], done["stop_reason"]) == ("cancelled", "cancelled")
    assert model.calls <= 2
    transcript = client.get(f"/v1/groups/{group['id']}/messages", params={"order": "asc"}).json()
    assert transcript[1]["content"] == "reply 1"  # what it produced stays
    again = client.post(f"/v1/groups/{group['id']}/messages/async", json={"input": "again"})
    assert again.status_code == 200  # the group is free again
    for _ in range(3):
        model.go.release()
    _finished(client, again.json()["id"])


class _Hook:
    """A local HTTP server that records the JSON bodies POSTed to it."""

    def __init__(self, status: int = 200) -> None:
        import http.server

        received = self.received = []  # type: list[dict[str, Any]]

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def test_a_finished_run_is_posted_to_its_callback_url(services: Services) -> None:
    """With private callbacks allowed (local testing), the finished run as GET shows it is
    POSTed once, and how that went is kept on the run."""
    settings = services.settings.model_copy(update={"callback_allow_private": True})
    client = TestClient(create_app(build_services(settings)))
    hook = _Hook()
    try:
        agent = client.post("/v1/agents/", json={"name": "caller"}).json()
        body = {"input": "report back", "callback_url": hook.url}
        run = client.post(f"/v1/agents/{agent['id']}/messages/async", json=body).json()
        assert run["callback_url"] == hook.url
        _finished(client, run["id"])
        (posted,) = hook.received
        assert (posted["id"], posted["status"], posted["stop_reason"]) == (
            run["id"],
            "completed",
            "end_turn",
        )
        shown = assert_valid("GET", "/v1/runs/{run_id}", client.get(f"/v1/runs/{run['id']}"))
        assert shown["callback_status_code"] == 200 and shown["callback_error"] is None
        assert shown["callback_sent_at"] is not None
    finally:
        hook.close()


def test_a_group_runs_steps_list_each_model_call_with_its_tokens_and_messages(
    api: Api, client: TestClient
) -> None:
    group = _trio(api, "steps")
    run = client.post(f"/v1/groups/{group}/messages/async", json={"input": "plan it"}).json()
    assert _finished(client, run["id"])["status"] == "completed"

    steps = assert_valid(
        "GET",
        "/v1/runs/{run_id}/steps",
        client.get(f"/v1/runs/{run['id']}/steps", params={"order": "asc"}),
    )
    listed = client.get(f"/v1/runs/{run['id']}/messages", params={"limit": 100}).json()
    speakers = [m["sender_id"] for m in listed if m["message_type"] == "assistant_message"]
    assert [s["agent_id"] for s in steps] == speakers  # one model call per member, in turn
    assert {(s["provider_name"], s["model"], s["status"]) for s in steps} == {
        ("offline", "default", "success")
    }
    assert all(s["stop_reason"] == "end_turn" and s["job_id"] == run["id"] for s in steps)
    usage = client.get(f"/v1/runs/{run['id']}/usage").json()
    assert sum(s["prompt_tokens"] for s in steps) == usage["prompt_tokens"]
    assert sum(s["completion_tokens"] for s in steps) == usage["completion_tokens"]
    assert all(s["total_tokens"] == s["prompt_tokens"] + s["completion_tokens"] for s in steps)
    replies = [m["content"] for m in listed if m["message_type"] == "assistant_message"]
    made = [
        part["text"]
        for s in steps
        for message in s["messages"]
        if message["role"] == "assistant"
        for part in message["content"]
        if part["type"] == "text"
    ]
    assert made == replies
    assert all(m["step_id"] == s["id"] for s in steps for m in s["messages"])

    newest_first = client.get(f"/v1/runs/{run['id']}/steps").json()  # Letta's default: desc
    assert [s["id"] for s in newest_first] == [s["id"] for s in reversed(steps)]
    walked: list[str] = []
    after: dict[str, str] = {}
    while page := client.get(
        f"/v1/runs/{run['id']}/steps", params={"order": "asc", "limit": 1, **after}
    ).json():
        walked.append(page[0]["id"])
        after = {"after": page[0]["id"]}
    assert walked == [s["id"] for s in steps]
    unknown = "run-123e4567-e89b-42d3-8456-426614174000"
    assert client.get(f"/v1/runs/{unknown}/steps").status_code == 404


def test_a_step_that_called_tools_lists_the_calls_and_their_results(
    api: Api, client: TestClient
) -> None:
    """A memgpt agent answers through send_message: the step holds the call and its return."""
    agent = api.agent("caller", agent_type="memgpt_v2_agent")["id"]
    run = client.post(f"/v1/agents/{agent}/messages/async", json={"input": "hi"}).json()
    assert _finished(client, run["id"])["status"] == "completed"
    steps = assert_valid(
        "GET", "/v1/runs/{run_id}/steps", client.get(f"/v1/runs/{run['id']}/steps")
    )
    calls = [
        (message["role"], message.get("tool_calls"), message.get("tool_returns"))
        for step in steps
        for message in step["messages"]
    ]
    called = [c for role, c, _ in calls if role == "assistant" and c]
    returned = [r for role, _, r in calls if role == "tool"]
    assert called and called[0][0]["function"]["name"] == "send_message"
    assert returned and returned[0] == [{"status": "success", "stdout": None, "stderr": None}]
