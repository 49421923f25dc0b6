"""sleeptime on scripted models: the main agent answers alone; sleeptime agents are started
as background runs on the schedule, each over what it has not reviewed yet."""

from __future__ import annotations

import pytest

from core.errors import BadRequestError
from core.groups.sleeptime import should_run
from core.llm import ModelServerError
from core.schemas.groups import GroupUpdate
from tests.unit.groups.conftest import TENANT, Groups, check_usage_sums, reply, speakers


def _pair(env: Groups, frequency: int | None = None) -> tuple[str, str, str]:
    main = env.agent("main")
    sleeper = env.agent("sleeper")
    group = env.group(
        [sleeper],
        manager_type="sleeptime",
        manager_agent_id=main,
        sleeptime_agent_frequency=frequency,
    )
    return main, sleeper, group


def test_main_answers_and_each_turn_starts_a_review_of_what_is_new(env: Groups) -> None:
    _, sleeper, group = _pair(env)
    env.model.script("main", reply("first answer"), reply("second answer"))

    first = env.send(group, "I like tea")
    second = env.send(group, "and biscuits")

    assert speakers(first) == ["main"]
    assert env.model.order == ["main", "main"]  # the sleeper runs in the background only
    started = env.background.started
    assert [s["agent_id"] for s in started] == [sleeper, sleeper]
    assert all(s["task"] == "remember" for s in started)
    assert "user: I like tea" in started[0]["text"] and "main: first answer" in started[0]["text"]
    assert "I like tea" not in started[1]["text"] and "user: and biscuits" in started[1]["text"]
    assert first.usage.run_ids == [started[0]["run_id"]]
    assert second.usage.run_ids == [started[1]["run_id"]]
    check_usage_sums(first)
    record = env.group_record(group)
    assert record.turns_counter == 2
    assert record.last_processed_message_id == env.transcript(group)[-1].id


@pytest.mark.parametrize(
    ("frequency", "runs_after"),
    [(None, [1, 2, 3, 4]), (2, [1, 3]), (3, [1, 4]), (0, [])],
)
def test_the_schedule_follows_the_frequency(
    env: Groups, frequency: int | None, runs_after: list[int]
) -> None:
    _, _, group = _pair(env, frequency)
    env.model.script("main", *[reply(f"answer {n}") for n in range(4)])
    ran = []
    for turn in range(1, 5):
        if env.send(group, f"turn {turn}").usage.run_ids:
            ran.append(turn)
    assert ran == runs_after
    assert [n for n in range(1, 5) if should_run(n, frequency)] == runs_after


def test_a_group_of_just_the_main_agent_can_be_sent_to(env: Groups) -> None:
    main = env.agent("solo")
    group = env.group([], manager_type="sleeptime", manager_agent_id=main)
    env.model.script("solo", reply("fine alone"))
    response = env.send(group)
    assert response.stop_reason.stop_reason == "end_turn"
    assert response.usage.run_ids == []
    assert env.group_record(group).turns_counter == 1


def test_a_failed_main_turn_counts_nothing_and_starts_nothing(env: Groups) -> None:
    _, _, group = _pair(env)
    env.model.script("main", ModelServerError("down", status=502))
    response = env.send(group)
    assert response.stop_reason.stop_reason == "llm_api_error"
    assert env.background.started == []
    assert env.group_record(group).turns_counter == 0


def test_a_sleeptime_group_keeps_its_main_agent(env: Groups) -> None:
    _, _, group = _pair(env)
    change = GroupUpdate(manager_config={"manager_agent_id": None})
    with pytest.raises(BadRequestError, match="needs a manager_agent_id"):
        env.groups.update(TENANT, group, change)
    assert env.group_record(group).manager_agent_id is not None
