"""Agents made with `enable_sleeptime` (SPEC §3.4, §3.5), end to end on moto: the agent
route runs their sleeptime group, blocks follow the main agent, sleeptime agents carry
Letta's tools and rules, and overlapping runs of one sleeptime agent all complete."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from core.llm import ChatRequest, ChatResponse, ToolCall, Usage
from tests.api import test_group_send as group_send
from tests.api.test_group_send import (
    MakeTransport,
    RecordingModel,
    Transport,
    new_agent,
    ok,
    wait_run,
)

# The transports of the group-send tests (fixtures), on both the ASGI app and Lambda.
make_transport = group_send.make_transport
kind = group_send.kind
t = group_send.t

HUMAN = {"label": "human", "value": "Name: Sam", "limit": 5000}
EDITS = 10


def sleeptime_agent(t: Transport, name: str = "ella", **body: Any) -> tuple[dict, dict, str]:
    """A main agent made with enable_sleeptime: (its state, its group, its sleeper's id)."""
    body.setdefault("memory_blocks", [HUMAN])
    main = new_agent(t, name, enable_sleeptime=True, **body)
    group = main["multi_agent_group"]
    [sleeper] = group["agent_ids"]
    return main, group, sleeper


def set_frequency(t: Transport, group_id: str, frequency: int) -> None:
    manager = {"manager_type": "sleeptime", "sleeptime_agent_frequency": frequency}
    ok(t.patch(f"/v1/groups/{group_id}", {"manager_config": manager}))


def agent_send(t: Transport, agent_id: str, text: str, **body: Any) -> dict[str, Any]:
    return ok(t.post(f"/v1/agents/{agent_id}/messages", {"input": text, **body}))


def tool_call(name: str, **arguments: Any) -> ChatResponse:
    return ChatResponse(
        text=None,
        tool_calls=(ToolCall(f"call-{uuid.uuid4().hex[:8]}", name, json.dumps(arguments)),),
        usage=Usage(5, 3),
        finish_reason="tool_calls",
    )


def for_agent(agent_id: Callable[[], str], answer: Callable[[ChatRequest], ChatResponse]) -> Any:
    """An override answering only the requests of one agent (known once it exists)."""

    def override(request: ChatRequest) -> ChatResponse | None:
        return answer(request) if request.metadata.get("agent_id") == agent_id() else None

    return override


def steps_this_turn(request: ChatRequest) -> int:
    """How many tool results the agent has had since its input (its step number)."""
    count = 0
    for message in reversed(request.messages):
        if message.role == "user":
            break
        count += message.role == "tool"
    return count


# -- 1. the agent route runs the sleeptime group ----------------------------------------------


def test_the_agent_route_starts_runs_at_the_groups_frequency(t: Transport) -> None:
    main, group, sleeper = sleeptime_agent(t)
    assert group["sleeptime_agent_frequency"] == 5  # Letta's default
    set_frequency(t, group["id"], 2)
    had_runs = []
    for turn in range(1, 6):
        reply = agent_send(t, main["id"], f"Fact number {turn}")
        assert reply["stop_reason"]["stop_reason"] == "end_turn"
        assert [m["message_type"] for m in reply["messages"]][-1] == "assistant_message"
        had_runs.append(len(reply["usage"]["run_ids"]))
        for run_id in reply["usage"]["run_ids"]:
            run = wait_run(t, run_id)
            assert (run["status"], run["agent_id"]) == ("completed", sleeper), run
    assert had_runs == [1, 0, 1, 0, 1]
    assert ok(t.get(f"/v1/groups/{group['id']}"))["turns_counter"] == 5
    human = next(b for b in main["memory"]["blocks"] if b["label"] == "human")
    value = ok(t.get(f"/v1/blocks/{human['id']}"))["value"]
    assert all(f"Fact number {n}" in value for n in (1, 3, 5)), value
    # The main agent's own history holds the exchange, as a plain agent's would.
    history = ok(t.get(f"/v1/agents/{main['id']}/messages", order="asc", limit=100))
    said = [m["content"] for m in history if m["message_type"] == "user_message"]
    assert said == [f"Fact number {n}" for n in range(1, 6)]


def test_an_agent_without_sleeptime_starts_no_runs(t: Transport) -> None:
    plain = new_agent(t, "plain", memory_blocks=[HUMAN])
    reply = agent_send(t, plain["id"], "hello")
    assert reply["usage"].get("run_ids") in (None, [])


def test_the_stream_and_async_routes_start_runs_too(t: Transport) -> None:
    main, group, sleeper = sleeptime_agent(t)
    set_frequency(t, group["id"], 1)
    status, text = t.stream(f"/v1/agents/{main['id']}/messages/stream", {"input": "I like figs"})
    assert status == 200, text
    frames = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
    [usage] = [f for f in frames if f.get("message_type") == "usage_statistics"]
    [run_id] = usage["run_ids"]
    assert wait_run(t, run_id)["agent_id"] == sleeper

    run = ok(t.post(f"/v1/agents/{main['id']}/messages/async", {"input": "I like plums"}))
    finished = wait_run(t, run["id"])
    assert (finished["status"], finished["agent_id"]) == ("completed", main["id"]), finished
    runs = ok(t.get("/v1/runs/", agent_id=sleeper, limit=10))
    assert len(runs) == 2, runs
    assert all(wait_run(t, r["id"])["status"] == "completed" for r in runs)


# -- 2. blocks attached later reach the sleeptime agent ----------------------------------------


def test_blocks_attached_and_detached_later_follow_the_main_agent(t: Transport) -> None:
    main, _, sleeper = sleeptime_agent(t)
    block = ok(t.post("/v1/blocks/", {"label": "preferences", "value": "tea over coffee"}))

    def held_by(agent_id: str) -> set[str]:
        return {b["id"] for b in ok(t.get(f"/v1/agents/{agent_id}"))["memory"]["blocks"]}

    ok(t.patch(f"/v1/agents/{main['id']}/core-memory/blocks/attach/{block['id']}"))
    assert block["id"] in held_by(main["id"]) and block["id"] in held_by(sleeper)

    ok(t.patch(f"/v1/agents/{main['id']}/core-memory/blocks/detach/{block['id']}"))
    assert block["id"] not in held_by(main["id"]) and block["id"] not in held_by(sleeper)
    assert t.get(f"/v1/blocks/{block['id']}")[0] == 200  # the block itself stays

    ok(t.patch(f"/v1/agents/{main['id']}", {"block_ids": [*held_by(main["id"]), block["id"]]}))
    assert block["id"] in held_by(sleeper)
    status, body = t.patch(f"/v1/agents/{main['id']}/core-memory/blocks/detach/{block['id']}")
    assert status == 200, body
    status, body = t.patch(f"/v1/agents/{main['id']}/core-memory/blocks/detach/{block['id']}")
    assert status == 404, body


def test_blocks_of_a_plain_agent_stay_its_own(t: Transport) -> None:
    plain = new_agent(t, "plain")
    other = new_agent(t, "other", agent_type="sleeptime_agent")
    block = ok(t.post("/v1/blocks/", {"label": "notes", "value": "x"}))
    ok(t.patch(f"/v1/agents/{plain['id']}/core-memory/blocks/attach/{block['id']}"))
    assert ok(t.get(f"/v1/agents/{other['id']}"))["memory"]["blocks"] == []


# -- 3. the sleeptime agent's tools and rules --------------------------------------------------


def test_the_sleeptime_agent_has_lettas_tools_and_rules(t: Transport) -> None:
    _, _, sleeper_id = sleeptime_agent(t)
    sleeper = ok(t.get(f"/v1/agents/{sleeper_id}"))
    assert {tool["name"] for tool in sleeper["tools"]} == {
        "memory_insert",
        "memory_replace",
        "memory_rethink",
        "memory_finish_edits",
    }
    rules = {(r["type"], r["tool_name"]) for r in sleeper["tool_rules"]}
    assert rules == {
        ("continue_loop", "memory_insert"),
        ("continue_loop", "memory_replace"),
        ("continue_loop", "memory_rethink"),
        ("exit_loop", "memory_finish_edits"),
    }


def test_a_sleeptime_pass_stops_on_memory_finish_edits(make_transport: MakeTransport) -> None:
    """A model that keeps editing memory, then finishes: the pass ends right there."""
    sleeper_id = ""

    def edits_then_finishes(request: ChatRequest) -> ChatResponse:
        step = steps_this_turn(request)
        if step < 3:
            return tool_call("memory_insert", label="human", new_str=f"edit {step}")
        if step == 3:
            return tool_call("memory_finish_edits")
        raise AssertionError("the pass went on after memory_finish_edits")

    model = RecordingModel(override=for_agent(lambda: sleeper_id, edits_then_finishes))
    t = make_transport("asgi", model=model)
    main, group, sleeper_id = sleeptime_agent(t)
    set_frequency(t, group["id"], 1)
    [run_id] = agent_send(t, main["id"], "remember this")["usage"]["run_ids"]
    run = wait_run(t, run_id)
    assert (run["status"], run["stop_reason"]) == ("completed", "end_turn"), run
    assert len(model.of(sleeper_id)) == 4
    human = next(b for b in main["memory"]["blocks"] if b["label"] == "human")
    value = ok(t.get(f"/v1/blocks/{human['id']}"))["value"]
    assert value.endswith("edit 0\nedit 1\nedit 2"), value


def test_a_model_that_never_finishes_stops_at_max_steps(make_transport: MakeTransport) -> None:
    """A misbehaving model (always the first tool offered, with unusable arguments, then
    memory edits forever) still ends its run: at the step limit, not in a failure."""
    sleeper_id = ""

    def keeps_editing(request: ChatRequest) -> ChatResponse:
        return tool_call("memory_insert", label="human", new_str="again")

    model = RecordingModel(override=for_agent(lambda: sleeper_id, keeps_editing))
    t = make_transport("asgi", model=model)
    main, group, sleeper_id = sleeptime_agent(t)
    set_frequency(t, group["id"], 1)
    [run_id] = agent_send(t, main["id"], "remember this")["usage"]["run_ids"]
    run = wait_run(t, run_id, timeout=60)
    assert (run["status"], run["stop_reason"]) == ("completed", "max_steps"), run
    assert len(model.of(sleeper_id)) == 50


def test_a_model_that_answers_in_text_ends_its_pass(make_transport: MakeTransport) -> None:
    sleeper_id = ""

    def chats(request: ChatRequest) -> ChatResponse:
        return ChatResponse(text="Nothing to store.", usage=Usage(5, 3))

    model = RecordingModel(override=for_agent(lambda: sleeper_id, chats))
    t = make_transport("asgi", model=model)
    main, group, sleeper_id = sleeptime_agent(t)
    set_frequency(t, group["id"], 1)
    [run_id] = agent_send(t, main["id"], "hello")["usage"]["run_ids"]
    run = wait_run(t, run_id)
    assert (run["status"], run["stop_reason"]) == ("completed", "end_turn"), run
    assert len(model.of(sleeper_id)) == 1


# -- 4. overlapping runs -------------------------------------------------------------------------


def test_three_overlapping_runs_of_one_sleeptime_agent_all_complete(
    make_transport: MakeTransport,
    kind: str,
) -> None:
    """Three passes of one sleeptime agent at once, on the in-process launcher, with a slow
    model making ten memory edits each: every step and edit of each run contends for the
    same agent and block, and every run completes with all its edits kept."""
    sleeper_id = ""

    def slow_edits(request: ChatRequest) -> ChatResponse:
        time.sleep(0.01)
        fact = next(m.text for m in reversed(request.messages) if m.role == "user")
        step = steps_this_turn(request)
        if step < EDITS:
            return tool_call("memory_insert", label="human", new_str=f"{fact} edit {step}")
        return tool_call("memory_finish_edits")

    model = RecordingModel(override=for_agent(lambda: sleeper_id, slow_edits))
    t = make_transport(kind, model=model)
    main, _, sleeper_id = sleeptime_agent(t)
    runs = t.services.runs
    run_ids = [
        runs.start_turn(
            "default", sleeper_id, f"fact {n}", task="remember", group_id=None, metadata={}
        )
        for n in range(3)
    ]
    finished = [wait_run(t, run_id, timeout=120) for run_id in run_ids]
    errors = [runs.get_record("default", run_id).error for run_id in run_ids]
    assert [r["status"] for r in finished] == ["completed"] * 3, errors
    human = next(b for b in main["memory"]["blocks"] if b["label"] == "human")
    lines = ok(t.get(f"/v1/blocks/{human['id']}"))["value"].splitlines()
    assert sorted(lines[1:]) == sorted(f"fact {n} edit {k}" for n in range(3) for k in range(EDITS))


# -- 5. voice ------------------------------------------------------------------------------------


def test_a_voice_agent_with_sleeptime_hands_evicted_messages_to_its_sleeptime_agent(
    t: Transport,
) -> None:
    main = new_agent(
        t, "vera", agent_type="voice_convo_agent", enable_sleeptime=True, memory_blocks=[HUMAN]
    )
    group = main["multi_agent_group"]
    assert group["manager_type"] == "voice_sleeptime"
    assert (group["max_message_buffer_length"], group["min_message_buffer_length"]) == (30, 15)
    assert sorted(tool["name"] for tool in main["tools"]) == ["search_memory", "send_message"]
    [sleeper_id] = group["agent_ids"]
    sleeper = ok(t.get(f"/v1/agents/{sleeper_id}"))
    assert sleeper["agent_type"] == "voice_sleeptime_agent"
    assert sorted(tool["name"] for tool in sleeper["tools"]) == [
        "finish_rethinking_memory",
        "rethink_user_memory",
        "store_memories",
    ]
    # One bound at a time, as Letta allows: each update keeps the other's current value.
    url = f"/v1/groups/{group['id']}"
    lower = ok(t.patch(url, {"manager_config": {"min_message_buffer_length": 5}}))
    assert (lower["max_message_buffer_length"], lower["min_message_buffer_length"]) == (30, 5)
    upper = ok(t.patch(url, {"manager_config": {"max_message_buffer_length": 6}}))
    assert (upper["max_message_buffer_length"], upper["min_message_buffer_length"]) == (6, 5)
    status, body = t.patch(url, {"manager_config": {"min_message_buffer_length": 7}})
    assert status == 400 and "greater than" in body["detail"], body

    # Through the agent route: three messages a send (input, send_message call, its
    # result), so the 3rd send passes 6 and the oldest leave, down to 5.
    run_ids = [
        agent_send(t, main["id"], f"Note {n}: bring snacks")["usage"]["run_ids"] for n in range(3)
    ]
    assert run_ids[:2] == [[], []] and len(run_ids[2]) == 1, run_ids
    run = wait_run(t, run_ids[2][0])
    assert (run["status"], run["agent_id"]) == ("completed", sleeper_id), run
    used = [
        m["tool_call"]["name"]
        for m in ok(t.get(f"/v1/runs/{run['id']}/messages", limit=50))
        if m["message_type"] == "tool_call_message"
    ]
    assert used == ["store_memories", "rethink_user_memory", "finish_rethinking_memory"]
    human = next(b for b in main["memory"]["blocks"] if b["label"] == "human")
    value = ok(t.get(f"/v1/blocks/{human['id']}"))["value"]
    assert value.startswith("Name: Sam\n") and "Note 0" in value, value
