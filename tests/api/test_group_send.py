"""Send Group Message (SPEC §3-§6) end to end, through both the ASGI app and the real Lambda
entry (API Gateway REST v1 events through Mangum), on the deterministic offline model."""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.groups.dynamic import match_member
from core.llm import ChatRequest, ChatResponse, ModelClient, Usage
from handler.app import create_app
from handler.composition import Services, build_services
from infra.launchers import InProcessLauncher
from infra.providers.offline import OfflineModel
from infra.settings import Settings, get_settings
from tests.conftest import TABLE
from tests.test_lambda_entry import JSON, FakeContext, rest_event

Reply = tuple[int, Any]
Override = Callable[[ChatRequest], ChatResponse | None]
FINISHED = ("completed", "failed", "cancelled")
VOLATILE = ("id", "date", "step_id", "seq_id", "otid", "run_id")


# -- the model: the offline one, recorded, optionally overridden per request -------------------


@dataclass
class RecordingModel:
    """The offline model with every request kept; `override` may answer a request instead."""

    latency_ms: int = 0
    override: Override | None = None
    requests: list[ChatRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._offline = OfflineModel(self.latency_ms)

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        answer = self.override(request) if self.override else None
        return answer if answer is not None else self._offline.complete(request)

    def of(self, agent_id: str) -> list[ChatRequest]:
        return [r for r in self.requests if r.metadata.get("agent_id") == agent_id]


# -- transports: the same calls through the ASGI app or the Lambda handler --------------------


class Transport:
    """post/get/patch/delete returning (status, JSON body); `stream` returns (status, text)."""

    kind: str
    services: Services

    def call(
        self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        raise NotImplementedError

    def request(
        self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
    ) -> Reply:
        status, headers, text = self.call(method, path, body, query)
        assert headers.get("content-type", "").startswith("application/json"), (status, text)
        return status, json.loads(text)

    def post(self, path: str, body: Any = None) -> Reply:
        return self.request("POST", path, body)

    def get(self, path: str, **query: Any) -> Reply:
        return self.request("GET", path, query={k: str(v) for k, v in query.items()} or None)

    def patch(self, path: str, body: Any = None) -> Reply:
        return self.request("PATCH", path, body)

    def delete(self, path: str) -> Reply:
        return self.request("DELETE", path)

    def stream(self, path: str, body: Any) -> tuple[int, str]:
        status, headers, text = self.call("POST", path, body)
        assert status != 200 or headers["content-type"].startswith("text/event-stream"), headers
        return status, text

    def close(self) -> None:
        launcher = self.services.runs.launcher
        if isinstance(launcher, InProcessLauncher):
            assert launcher.wait_idle(timeout=30), "a background run did not finish"
            launcher.shutdown()


class AsgiTransport(Transport):
    kind = "asgi"

    def __init__(self, services: Services) -> None:
        self.services = services
        self.client = TestClient(create_app(services))

    def call(
        self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        response = self.client.request(method, path, json=body, params=query)
        return response.status_code, dict(response.headers), response.text

    def close(self) -> None:
        self.client.close()
        super().close()


class LambdaTransport(Transport):
    """A fresh import of handler.lambda_entry: one Lambda container, its app built from env."""

    kind = "lambda"

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.services = module.app.state.services

    def call(
        self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        event = rest_event(method, path, body, JSON if body is not None else None, query)
        if threading.current_thread() is not threading.main_thread():
            asyncio.set_event_loop(asyncio.new_event_loop())  # Mangum needs one per thread
        result = self.module.handler(event, FakeContext())
        headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        text = result.get("body") or ""
        if result.get("isBase64Encoded"):
            text = base64.b64decode(text).decode()
        return result["statusCode"], headers, text


MakeTransport = Callable[..., Transport]


@pytest.fixture
def make_transport(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeTransport]:
    made: list[Transport] = []

    def make(kind: str, *, latency_ms: int = 0, model: ModelClient | None = None) -> Transport:
        if kind == "asgi":
            tuned = settings.model_copy(update={"offline_model_latency_ms": latency_ms})
            transport: Transport = AsgiTransport(build_services(tuned, model=model))
        else:
            monkeypatch.setenv("TABLE_NAME", TABLE)
            monkeypatch.setenv("SERIALIZE_DYNAMODB_CALLS", "true")  # moto is not thread-safe
            monkeypatch.setenv("AWS_REGION", "us-east-1")
            monkeypatch.setenv("OFFLINE_MODEL_LATENCY_MS", str(latency_ms))
            get_settings.cache_clear()
            sys.modules.pop("handler.lambda_entry", None)
            module = importlib.import_module("handler.lambda_entry")
            sys.modules.pop("handler.lambda_entry", None)
            if model is not None:
                # Same container, same env settings; only the model client is swapped.
                module.app.state.services.runs.launcher.shutdown()
                module.app.state.services = build_services(get_settings(), model=model)
            transport = LambdaTransport(module)
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.close()
    get_settings.cache_clear()


@pytest.fixture(params=["asgi", "lambda"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def t(make_transport: MakeTransport, kind: str) -> Transport:
    return make_transport(kind)


# -- helpers -----------------------------------------------------------------------------------


def ok(reply: Reply) -> Any:
    status, body = reply
    assert status == 200, reply
    return body


def new_agent(t: Transport, name: str, **body: Any) -> dict[str, Any]:
    return ok(t.post("/v1/agents/", {"name": name, **body}))


def new_agents(t: Transport, names: list[str], **body: Any) -> list[str]:
    return [new_agent(t, name, **body)["id"] for name in names]


def new_group(t: Transport, agent_ids: list[str], **body: Any) -> dict[str, Any]:
    body.setdefault("description", "a group")
    return ok(t.post("/v1/groups/", {"agent_ids": agent_ids, **body}))


def send(t: Transport, group_id: str, text: str, **body: Any) -> dict[str, Any]:
    return ok(t.post(f"/v1/groups/{group_id}/messages", {"input": text, **body}))


def transcript(t: Transport, group_id: str) -> list[dict[str, Any]]:
    return ok(t.get(f"/v1/groups/{group_id}/messages", order="asc", limit=100))


def assert_usage_adds_up(usage: dict[str, Any]) -> None:
    by_agent = usage["by_agent"]
    for key in ("prompt_tokens", "completion_tokens", "total_tokens", "step_count"):
        assert sum(entry[key] for entry in by_agent) == usage[key], (key, usage)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert len({entry["agent_id"] for entry in by_agent}) == len(by_agent), by_agent


def wait_run(t: Transport, run_id: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = ok(t.get(f"/v1/runs/{run_id}"))
        if run["status"] in FINISHED or time.monotonic() > deadline:
            return run
        time.sleep(0.02)


def speakers(messages: list[dict[str, Any]]) -> list[str]:
    return [m["name"] for m in messages if m["message_type"] == "assistant_message"]


# -- 1. round_robin ----------------------------------------------------------------------------


def test_round_robin_then_modify_reset_and_send_again(t: Transport) -> None:
    names = ["ana", "ben", "cy", "dee"]
    members = new_agents(t, names)
    group = new_group(t, members)
    first = send(t, group["id"], "Plan the offsite")

    messages = first["messages"]
    assert [m["message_type"] for m in messages] == ["reasoning_message", "assistant_message"] * 4
    assert [m["name"] for m in messages] == [n for n in names for _ in range(2)]
    assert [m["sender_id"] for m in messages] == [a for a in members for _ in range(2)]
    assert messages[1]["content"] == 'ana here. You said: "Plan the offsite"'
    assert first["stop_reason"] == {"message_type": "stop_reason", "stop_reason": "end_turn"}
    usage = first["usage"]
    assert usage["message_type"] == "usage_statistics"
    assert usage["step_count"] == 4
    assert [(e["agent_id"], e["name"]) for e in usage["by_agent"]] == list(
        zip(members, names, strict=True)
    )
    assert all(e["step_count"] == 1 for e in usage["by_agent"])
    assert_usage_adds_up(usage)

    reversed_ids = members[::-1]
    manager = {"manager_type": "round_robin", "max_turns": 3}
    changed = ok(
        t.patch(f"/v1/groups/{group['id']}", {"agent_ids": reversed_ids, "manager_config": manager})
    )
    assert (changed["agent_ids"], changed["max_turns"]) == (reversed_ids, 3)
    assert t.patch(f"/v1/groups/{group['id']}/reset-messages") == (200, None)
    assert transcript(t, group["id"]) == []

    second = send(t, group["id"], "Second topic")
    messages = second["messages"]
    expected_names = names[::-1][:3]
    assert [m["message_type"] for m in messages] == ["reasoning_message", "assistant_message"] * 3
    assert [m["name"] for m in messages] == [n for n in expected_names for _ in range(2)]
    assert [m["sender_id"] for m in messages] == [a for a in reversed_ids[:3] for _ in range(2)]
    # The reset cleared the first speaker's context: it answers the new input only.
    assert messages[1]["content"] == 'dee here. You said: "Second topic"'
    assert second["usage"]["step_count"] == 3
    assert len(second["usage"]["by_agent"]) == 3
    assert_usage_adds_up(second["usage"])
    assert second["stop_reason"]["stop_reason"] == "end_turn"

    listing = transcript(t, group["id"])
    keys = [(m["id"], m["message_type"]) for m in listing]
    assert len(keys) == len(set(keys)), keys
    assert listing[0]["message_type"] == "user_message"
    assert listing[0]["content"] == "Second topic"
    assert keys[1:] == [(m["id"], m["message_type"]) for m in messages]
    old_ids = {m["id"] for m in first["messages"]}
    assert not old_ids & {m["id"] for m in listing}


# -- 2. supervisor -----------------------------------------------------------------------------


def test_supervisor_broadcasts_to_every_worker(t: Transport) -> None:
    names = ["wa", "wb", "wc", "wd"]
    workers = new_agents(t, names)
    boss = new_agent(t, "boss")["id"]
    manager = {"manager_type": "supervisor", "manager_agent_id": boss}
    group = new_group(t, workers, manager_config=manager)
    reply = send(t, group["id"], "Status report, please")

    messages = reply["messages"]
    assert [m["message_type"] for m in messages] == [
        "reasoning_message",
        "tool_call_message",
        "tool_return_message",
        "reasoning_message",
        "assistant_message",
    ]
    assert {(m["name"], m["sender_id"]) for m in messages} == {("boss", boss)}
    assert messages[1]["tool_call"]["name"] == "send_message_to_all_agents_in_group"
    entries = json.loads(messages[2]["tool_return"])
    assert [(e["agent_id"], e["name"]) for e in entries] == list(zip(workers, names, strict=True))
    assert all(e["response"] and "error" not in e for e in entries), entries
    assert reply["stop_reason"]["stop_reason"] == "end_turn"
    usage = reply["usage"]
    assert {e["agent_id"] for e in usage["by_agent"]} == {*workers, boss}
    assert usage["step_count"] == 6
    assert_usage_adds_up(usage)

    # Workers' exchanges are in the group transcript, tagged with their names.
    listing = transcript(t, group["id"])
    assert set(speakers(listing)) >= set(names), speakers(listing)


def test_supervisor_runs_workers_concurrently(make_transport: MakeTransport) -> None:
    latency = 1.0  # long enough that DynamoDB and scheduling overhead stay small beside it
    t = make_transport("asgi", latency_ms=int(latency * 1000))
    workers = new_agents(t, ["wa", "wb", "wc", "wd"])
    boss = new_agent(t, "boss")["id"]
    manager = {"manager_type": "supervisor", "manager_agent_id": boss}
    group = new_group(t, workers, manager_config=manager)
    started = time.monotonic()
    reply = send(t, group["id"], "Go")
    elapsed = time.monotonic() - started
    assert reply["usage"]["step_count"] == 6
    # Supervisor 2 steps + one parallel round of workers ≈ 3 × latency; sequential workers
    # would take at least 6 × latency.
    assert 3 * latency <= elapsed < 5 * latency, elapsed


# -- 3. dynamic --------------------------------------------------------------------------------


def dynamic_group(t: Transport, names: list[str], **manager: Any) -> tuple[str, list[str], str]:
    members = new_agents(t, names)
    moderator = new_agent(t, "mod")["id"]
    config = {"manager_type": "dynamic", "manager_agent_id": moderator, **manager}
    return new_group(t, members, manager_config=config)["id"], members, moderator


def test_dynamic_manager_picks_each_speaker(t: Transport) -> None:
    names = ["ana", "ben", "cy", "dee"]
    group_id, members, moderator = dynamic_group(t, names)
    reply = send(t, group_id, "Kick off the retro")

    messages = reply["messages"]
    assert len(messages) == 16, [(m["name"], m["message_type"]) for m in messages]
    chosen = []
    for turn in range(4):
        chunk = messages[4 * turn : 4 * turn + 4]
        assert [(m["sender_id"], m["message_type"]) for m in chunk[:2]] == [
            (moderator, "reasoning_message"),
            (moderator, "assistant_message"),
        ]
        pick = chunk[1]["content"]
        assert pick in names
        assert [(m["name"], m["message_type"]) for m in chunk[2:]] == [
            (pick, "reasoning_message"),
            (pick, "assistant_message"),
        ]
        assert chunk[2]["sender_id"] == members[names.index(pick)]
        chosen.append(pick)
    assert all(a != b for a, b in zip(chosen, chosen[1:], strict=False)), chosen
    assert reply["stop_reason"]["stop_reason"] == "end_turn"
    usage = reply["usage"]
    assert usage["step_count"] == 8
    assert moderator in {e["agent_id"] for e in usage["by_agent"]}
    assert_usage_adds_up(usage)


@pytest.mark.parametrize("token", [None, "ZEBRA-42"])
def test_dynamic_termination_token_ends_the_run(t: Transport, token: str | None) -> None:
    manager = {} if token is None else {"termination_token": token}
    group_id, _, _ = dynamic_group(t, ["ana", "ben", "cy"], **manager)
    # The offline member quotes the latest message, so the first speaker echoes the token.
    reply = send(t, group_id, f"Answer and then say {token or 'DONE!'}")
    assert reply["stop_reason"]["stop_reason"] == "end_turn"
    assert len(reply["messages"]) == 4
    assert (token or "DONE!") in reply["messages"][-1]["content"]


def test_match_member() -> None:
    ana, ben, benjamin, cy = (f"agent-{uuid.uuid4()}" for _ in range(4))
    names = {ana: "Ana", ben: "Ben", benjamin: "Benjamin", cy: "Cy"}
    everyone = [ana, ben, benjamin, cy]
    assert match_member(f"next: {ben}", everyone, names) == ben
    assert match_member("I pick ana.", everyone, names) == ana
    assert match_member("BENJAMIN should speak", everyone, names) == benjamin
    assert match_member("Ana or Cy", everyone, names) is None
    assert match_member("Banana", [ana, ben], names) is None
    assert match_member("Benjamin", [ana, ben], names) is None
    assert match_member("nobody", everyone, names) is None
    assert match_member("Ana", [ben, cy], names) is None  # not a candidate (spoke last)


def test_match_member_two_ids_is_ambiguous() -> None:
    """SPEC §3.3: an ambiguous choice gets the corrective retry; an answer naming two member
    ids is no exact member id."""
    ana, ben = (f"agent-{uuid.uuid4()}" for _ in range(2))
    assert match_member(f"{ana} or {ben}", [ana, ben], {ana: "Ana", ben: "Ben"}) is None


def manager_answers(answer: Callable[[ChatRequest, list[str]], str]) -> Override:
    def override(request: ChatRequest) -> ChatResponse | None:
        if request.task != "choose":
            return None
        text = answer(request, list(request.choices))
        return ChatResponse(text=text, usage=Usage(prompt_tokens=10, completion_tokens=2))

    return override


def test_dynamic_unusable_choice_falls_back_to_member_order(
    make_transport: MakeTransport, kind: str
) -> None:
    model = RecordingModel(override=manager_answers(lambda _r, _c: "Nobody in particular"))
    t = make_transport(kind, model=model)
    names = ["ana", "ben", "cy"]
    group_id, _, moderator = dynamic_group(t, names)
    reply = send(t, group_id, "Who goes first?")
    member_turns = [m for m in reply["messages"] if m["sender_id"] != moderator]
    assert speakers(member_turns) == names
    assert reply["stop_reason"]["stop_reason"] == "end_turn"
    asked = model.of(moderator)
    assert len(asked) == 6  # one corrective retry per turn
    assert "does not name exactly one candidate" in asked[1].messages[-1].text
    assert_usage_adds_up(reply["usage"])


def test_dynamic_ambiguous_choice_gets_a_corrective_retry(
    make_transport: MakeTransport, kind: str
) -> None:
    def answer(request: ChatRequest, candidates: list[str]) -> str:
        latest = request.messages[-1].text or ""
        return candidates[-1] if "does not name" in latest else " or ".join(candidates)

    t = make_transport(kind, model=RecordingModel(override=manager_answers(answer)))
    names = ["ana", "ben", "cy"]
    group_id, _, moderator = dynamic_group(t, names)
    reply = send(t, group_id, "Who goes first?")
    member_turns = [m for m in reply["messages"] if m["sender_id"] != moderator]
    assert speakers(member_turns) == ["cy", "ben", "cy"]


# -- 4. sleeptime ------------------------------------------------------------------------------


def sleeptime_group(t: Transport, frequency: int | None) -> tuple[str, str, str, str]:
    """A main agent and a sleeptime agent holding the same block, in a sleeptime group."""
    block = ok(t.post("/v1/blocks/", {"label": "human", "value": "Name: Sam", "limit": 5000}))
    main = new_agent(t, "main", block_ids=[block["id"]])["id"]
    sleeper = new_agent(t, "dreamer", agent_type="sleeptime_agent", block_ids=[block["id"]])["id"]
    manager = {
        "manager_type": "sleeptime",
        "manager_agent_id": main,
        "sleeptime_agent_frequency": frequency,
    }
    return new_group(t, [sleeper], manager_config=manager)["id"], main, sleeper, block["id"]


def test_sleeptime_memory_edit_reaches_the_main_agent(
    make_transport: MakeTransport, kind: str
) -> None:
    model = RecordingModel()
    t = make_transport(kind, model=model)
    group_id, main, sleeper, block_id = sleeptime_group(t, 2)

    reply = send(t, group_id, "My favourite colour is teal")
    assert reply["stop_reason"]["stop_reason"] == "end_turn"
    assert {(m["name"], m["sender_id"]) for m in reply["messages"]} == {("main", main)}
    [run_id] = reply["usage"]["run_ids"]
    run = wait_run(t, run_id)
    assert (run["status"], run["agent_id"]) == ("completed", sleeper), run
    value = ok(t.get(f"/v1/blocks/{block_id}"))["value"]
    assert "teal" in value, value
    held = ok(t.get(f"/v1/agents/{main}"))["memory"]["blocks"]
    assert [b["value"] for b in held if b["id"] == block_id] == [value]

    before = len(model.of(main))
    assert send(t, group_id, "What do you know about me?")["usage"]["run_ids"] == []
    system = model.of(main)[before].system
    assert "teal" in system, system


def test_sleeptime_frequency_two_over_five_sends(t: Transport) -> None:
    group_id, _, sleeper, block_id = sleeptime_group(t, 2)
    had_runs = []
    for turn in range(1, 6):
        run_ids = send(t, group_id, f"Fact number {turn}")["usage"]["run_ids"]
        had_runs.append(len(run_ids))
        for run_id in run_ids:
            run = wait_run(t, run_id)
            assert (run["status"], run["agent_id"]) == ("completed", sleeper), run
    assert had_runs == [1, 0, 1, 0, 1]
    value = ok(t.get(f"/v1/blocks/{block_id}"))["value"]
    assert all(f"Fact number {n}" in value for n in (1, 2, 3, 4, 5)), value
    assert ok(t.get(f"/v1/groups/{group_id}"))["turns_counter"] == 5


def test_enable_sleeptime_creates_and_deletes_its_group(t: Transport) -> None:
    body = {"enable_sleeptime": True, "memory_blocks": [{"label": "human", "value": "Sam"}]}
    main = new_agent(t, "ella", **body)
    groups = ok(t.get(f"/v1/agents/{main['id']}/groups"))
    assert [(g["manager_type"], g["manager_agent_id"]) for g in groups] == [
        ("sleeptime", main["id"])
    ]
    [group] = groups
    [sleeper_id] = group["agent_ids"]
    sleeper = ok(t.get(f"/v1/agents/{sleeper_id}"))
    assert sleeper["agent_type"] == "sleeptime_agent"
    assert {b["id"] for b in sleeper["memory"]["blocks"]} == {
        b["id"] for b in main["memory"]["blocks"]
    }
    reply = send(t, group["id"], "I live in Lisbon")
    [run_id] = reply["usage"]["run_ids"]
    assert wait_run(t, run_id)["status"] == "completed"

    assert t.delete(f"/v1/agents/{main['id']}")[0] == 200
    assert t.get(f"/v1/groups/{group['id']}")[0] == 404
    assert t.get(f"/v1/agents/{sleeper_id}")[0] == 404


# -- 5. voice_sleeptime ------------------------------------------------------------------------


def test_voice_sleeptime_evicts_past_the_max_buffer(
    make_transport: MakeTransport, kind: str
) -> None:
    model = RecordingModel()
    t = make_transport(kind, model=model)
    block = ok(t.post("/v1/blocks/", {"label": "human", "value": "Name: Sam", "limit": 5000}))
    main = new_agent(t, "talker", block_ids=[block["id"]])["id"]
    sleeper = new_agent(t, "keeper", agent_type="voice_sleeptime_agent", block_ids=[block["id"]])[
        "id"
    ]
    manager = {
        "manager_type": "voice_sleeptime",
        "manager_agent_id": main,
        "max_message_buffer_length": 6,
        "min_message_buffer_length": 5,
    }
    group_id = new_group(t, [sleeper], manager_config=manager)["id"]
    # Each send adds the user's input and the reply to the main agent's context: the 4th
    # send takes it to 8 > 6, so the oldest 3 leave (down to 5) in a background run.
    run_ids = [
        send(t, group_id, f"Note {n}: bring snacks")["usage"]["run_ids"] for n in (1, 2, 3, 4)
    ]
    assert run_ids[:3] == [[], [], []], run_ids
    assert len(run_ids[3]) == 1, run_ids
    run = wait_run(t, run_ids[3][0])
    assert (run["status"], run["agent_id"]) == ("completed", sleeper), run
    value = ok(t.get(f"/v1/blocks/{block['id']}"))["value"]
    assert "Note 1" in value and "Note 2" in value, value

    before = len(model.of(main))
    send(t, group_id, "Note 5: bring snacks")
    context = [m.text or "" for m in model.of(main)[before].messages]
    assert not any("Note 1" in text for text in context), context
    assert any("Note 3" in text for text in context), context


# -- 6. errors and concurrency -----------------------------------------------------------------


def test_send_errors(t: Transport) -> None:
    empty = new_group(t, [])
    assert t.post(f"/v1/groups/{empty['id']}/messages", {"input": "hi"}) == (
        400,
        {"detail": "Empty group"},
    )
    absent = f"group-{uuid.uuid4()}"
    status, body = t.post(f"/v1/groups/{absent}/messages", {"input": "hi"})
    assert status == 404 and absent in body["detail"], body
    member = new_agent(t, "solo")["id"]
    group_id = new_group(t, [member])["id"]
    both = {"input": "hi", "messages": [{"role": "user", "content": "hi"}]}
    assert t.post(f"/v1/groups/{group_id}/messages", both)[0] == 422
    assert t.post(f"/v1/groups/{group_id}/messages", {})[0] == 422
    assert transcript(t, group_id) == []


def test_second_concurrent_send_is_409_busy(make_transport: MakeTransport, kind: str) -> None:
    """Two app instances (two Lambda containers) over one table; the first send holds the
    group while its model call takes 500 ms."""
    busy = make_transport(kind, latency_ms=500)
    t = make_transport(kind, latency_ms=500)
    member = new_agent(t, "slow")["id"]
    group_id = new_group(t, [member])["id"]
    first: list[Reply] = []
    worker = threading.Thread(
        target=lambda: first.append(busy.post(f"/v1/groups/{group_id}/messages", {"input": "one"}))
    )
    worker.start()
    deadline = time.monotonic() + 5
    while not transcript(t, group_id) and time.monotonic() < deadline:
        time.sleep(0.01)  # the first send holds the group once its input is in
    status, body = t.post(f"/v1/groups/{group_id}/messages", {"input": "two"})
    worker.join(timeout=10)
    assert status == 409, body
    assert "busy" in body["detail"], body
    assert first and first[0][0] == 200, first
    assert [m["content"] for m in first[0][1]["messages"][1:]] == ['slow here. You said: "one"']
    again = send(t, group_id, "three")
    assert again["messages"][-1]["content"] == 'slow here. You said: "three"'
    contents = [
        m["content"] for m in transcript(t, group_id) if m["message_type"] == "user_message"
    ]
    assert contents == ["one", "three"]


# -- 7. streaming ------------------------------------------------------------------------------


def sse_payloads(text: str) -> list[Any]:
    frames = [f for f in text.split("\n\n") if f.strip()]
    assert all(f.startswith("data: ") for f in frames), frames
    return [f[len("data: ") :] if f == "data: [DONE]" else json.loads(f[6:]) for f in frames]


def normalized(messages: list[dict[str, Any]], members: list[str]) -> list[dict[str, Any]]:
    return [
        {
            **{k: v for k, v in m.items() if k not in VOLATILE},
            "sender_id": members.index(m["sender_id"]),
        }
        for m in messages
    ]


def test_stream_frames_match_the_plain_send(t: Transport) -> None:
    names = ["ana", "ben"]
    streamed_members = new_agents(t, names)
    plain_members = new_agents(t, names)
    manager = {"manager_type": "round_robin", "max_turns": 3}
    streamed_group = new_group(t, streamed_members, manager_config=manager)["id"]
    plain_group = new_group(t, plain_members, manager_config=manager)["id"]

    status, text = t.stream(f"/v1/groups/{streamed_group}/messages/stream", {"input": "Hi all"})
    assert status == 200, text
    payloads = sse_payloads(text)
    assert payloads[-1] == "[DONE]"
    stop, usage = payloads[-3], payloads[-2]
    frames = payloads[:-3]
    plain = send(t, plain_group, "Hi all")

    assert len(frames) == 6
    assert normalized(frames, streamed_members) == normalized(plain["messages"], plain_members)
    assert (
        stop == plain["stop_reason"] == {"message_type": "stop_reason", "stop_reason": "end_turn"}
    )
    assert usage["message_type"] == "usage_statistics"
    assert usage["step_count"] == plain["usage"]["step_count"] == 3
    assert_usage_adds_up(usage)
    listing = transcript(t, streamed_group)
    assert [m["id"] for m in listing[1:]] == [m["id"] for m in frames]


# -- 8. editing a transcript message ------------------------------------------------------------


def test_edit_group_message(t: Transport) -> None:
    members = new_agents(t, ["ana", "ben"])
    group_id = new_group(t, members)["id"]
    reply = send(t, group_id, "Hello there")
    target = reply["messages"][3]
    assert (target["message_type"], target["sender_id"]) == ("assistant_message", members[1])
    edit = {"message_type": "assistant_message", "content": "edited"}
    edited = ok(t.patch(f"/v1/groups/{group_id}/messages/{target['id']}", edit))
    assert (edited["id"], edited["message_type"], edited["content"]) == (
        target["id"],
        "assistant_message",
        "edited",
    )

    def content_of(messages: list[dict[str, Any]]) -> list[Any]:
        return [
            m["content"]
            for m in messages
            if m["id"] == target["id"] and m["message_type"] == "assistant_message"
        ]

    assert content_of(transcript(t, group_id)) == ["edited"]
    own = ok(t.get(f"/v1/agents/{members[1]}/messages", limit=100))
    assert content_of(own) == ["edited"]

    other_group = new_group(t, new_agents(t, ["cy"]))["id"]
    foreign = send(t, other_group, "Elsewhere")["messages"][-1]
    status, body = t.patch(f"/v1/groups/{group_id}/messages/{foreign['id']}", edit)
    assert status == 404, body
    listing = transcript(t, other_group)
    unchanged = [
        m
        for m in listing
        if (m["id"], m["message_type"]) == (foreign["id"], foreign["message_type"])
    ]
    assert [m["content"] for m in unchanged] == [foreign["content"]]
