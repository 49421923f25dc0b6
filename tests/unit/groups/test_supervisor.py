"""supervisor on scripted models: the broadcast runs workers in parallel, its result holds
one entry per worker in member order, and the response holds the manager's messages."""

from __future__ import annotations

import json
import threading

from core.llm import ChatRequest, ChatResponse, ModelServerError
from core.records import MessageRecord
from tests.unit.groups.conftest import Groups, call, check_usage_sums, kinds, reply, speakers

BROADCAST = "send_message_to_all_agents_in_group"


def _team(env: Groups) -> tuple[str, list[str], str]:
    boss = env.agent("boss")
    workers = [env.agent("wes"), env.agent("val")]
    group = env.group(workers, manager_type="supervisor", manager_agent_id=boss)
    return boss, workers, group


def _tool_result(env: Groups, agent_id: str) -> list[dict[str, object]]:
    tool = [m for m in env.history(agent_id) if m.role == "tool" and m.tool_name == BROADCAST]
    return json.loads(tool[-1].text or "[]")


def test_broadcast_runs_every_worker_in_parallel_and_returns_them_in_member_order(
    env: Groups,
) -> None:
    boss, workers, group = _team(env)
    both_running = threading.Barrier(2, timeout=5)

    def worker(text: str):  # noqa: ANN202 - a script step
        def step(request: ChatRequest) -> ChatResponse:
            both_running.wait()  # fails unless the two workers run at the same time
            return reply(text)

        return step

    env.model.script("wes", worker("wes: 3 days"))
    env.model.script("val", worker("val: 2 days"))
    env.model.script(
        "boss",
        call(BROADCAST, json.dumps({"message": "estimate?"}), thought="ask the team"),
        reply("About 3 days.", thought="wes is slower"),
    )

    response = env.send(group, "how long?")

    assert speakers(response) == ["boss"] * 5
    assert kinds(response) == [
        "reasoning_message",
        "tool_call_message",
        "tool_return_message",
        "reasoning_message",
        "assistant_message",
    ]
    assert _tool_result(env, boss) == [
        {"agent_id": workers[0], "name": "wes", "response": "wes: 3 days"},
        {"agent_id": workers[1], "name": "val", "response": "val: 2 days"},
    ]
    # Each worker got the user's input and the manager's brief, with the manager's name.
    assert env.seen_by("wes") == [("user", None, "how long?"), ("user", "boss", "estimate?")]
    # Workers' exchanges are in the transcript, in member order, before the manager's.
    names = [t.name for t in env.transcript(group)]
    assert names[:3] == [None, "wes", "val"] and set(names[3:]) == {"boss"}
    assert {a.name for a in response.usage.by_agent or []} == {"boss", "wes", "val"}
    assert response.usage.step_count == 4
    check_usage_sums(response)


def test_workers_replies_are_not_relayed_to_the_manager_again(env: Groups) -> None:
    _, _, group = _team(env)
    env.model.script("wes", reply("w1"), reply("w2"))
    env.model.script("val", reply("v1"), reply("v2"))
    env.model.script(
        "boss",
        call(BROADCAST, '{"message": "go"}'),
        reply("done 1"),
        call(BROADCAST, '{"message": "again"}'),
        reply("done 2"),
    )
    env.send(group, "one")
    env.send(group, "two")
    second_turn = env.seen_by("boss", 2)
    assert ("user", "wes", "w1") not in second_turn
    assert second_turn[-1] == ("user", None, "two")


def test_a_manager_that_answers_without_the_tool_runs_no_worker(env: Groups) -> None:
    _, _, group = _team(env)
    env.model.script("boss", reply("I will answer alone."))
    response = env.send(group)
    assert response.stop_reason.stop_reason == "end_turn"
    assert env.model.order == ["boss"]
    assert kinds(response) == ["assistant_message"]


def test_a_failing_worker_is_an_error_entry_and_the_others_still_answer(env: Groups) -> None:
    boss, workers, group = _team(env)
    env.model.script("wes", ModelServerError("down", status=500))
    env.model.script("val", reply("val ok"))
    env.model.script("boss", call(BROADCAST, '{"message": "go"}'), reply("partial answer"))
    response = env.send(group)
    assert response.stop_reason.stop_reason == "end_turn"
    entries = _tool_result(env, boss)
    assert entries[0]["agent_id"] == workers[0]
    assert entries[0]["error"] == "stopped with llm_api_error"
    assert entries[1] == {"agent_id": workers[1], "name": "val", "response": "val ok"}
    check_usage_sums(response)


def test_the_broadcast_tool_outside_a_supervisor_group_is_an_error_to_the_model(
    env: Groups,
) -> None:
    loner = env.agent("loner", tools=[BROADCAST])
    group = env.group([loner])
    env.model.script("loner", call(BROADCAST, '{"message": "anyone?"}'), reply("alone"))
    env.send(group)
    results = [m for m in env.history(loner) if isinstance(m, MessageRecord) and m.role == "tool"]
    assert results[0].tool_status == "error"


def test_the_manager_is_forced_to_broadcast_then_to_answer_through_send_message(
    env: Groups,
) -> None:
    boss = env.agent("boss", tool_rules=[{"type": "run_first", "tool_name": "conversation_search"}])
    workers = [env.agent("wes")]
    group = env.group(workers, manager_type="supervisor", manager_agent_id=boss)
    env.model.script("wes", reply("wes: 3 days"))
    env.model.script(
        "boss",
        call(BROADCAST, '{"message": "estimate?"}'),
        call("send_message", '{"message": "About 3 days."}'),
    )

    response = env.send(group, "how long?")

    first, second = env.model.requests["boss"]
    # The manager's own init rule gives way to the supervisor's for the send.
    assert ([t.name for t in first.tools], first.forced_tool) == ([BROADCAST], BROADCAST)
    assert ([t.name for t in second.tools], second.forced_tool) == (
        ["send_message"],
        "send_message",
    )
    # send_message ends the turn even for an agent type that answers in plain text.
    assert kinds(response)[-1] == "assistant_message"
    assert getattr(response.messages[-1], "content", None) == "About 3 days."
    assert response.stop_reason.stop_reason == "end_turn"
    assert env.model.order == ["boss", "wes", "boss"]
