"""voice_sleeptime on scripted models: the main agent answers; when its context passes the
buffer's max, the oldest messages down to the min leave it and go to the sleeptime agent."""

from __future__ import annotations

import pytest

from core.errors import BadRequestError
from core.records import AgentRecord
from core.schemas.groups import GroupUpdate
from tests.unit.groups.conftest import TENANT, Groups, check_usage_sums, reply, speakers


def _voice(env: Groups, **bounds: int) -> tuple[str, str, str]:
    main = env.agent("voice")
    sleeper = env.agent("keeper")
    group = env.group([sleeper], manager_type="voice_sleeptime", manager_agent_id=main, **bounds)
    return main, sleeper, group


def _context_size(env: Groups, agent_id: str) -> int:
    agent = env.store.get(TENANT, AgentRecord, agent_id)
    assert agent is not None
    return agent.next_message_seq - agent.context_start_seq


def test_overflowing_the_buffer_hands_the_oldest_messages_to_the_sleeptime_agent(
    env: Groups,
) -> None:
    main, sleeper, group = _voice(env, max_message_buffer_length=6, min_message_buffer_length=5)
    env.model.script("voice", *[reply(f"answer {n}") for n in range(5)])
    responses = [env.send(group, f"question {n}") for n in range(4)]
    runs = [r.usage.run_ids for r in responses]
    # Two messages per send (question, answer): the 4th send takes the context to 8 > 6.
    assert runs[:3] == [[], [], []] and len(runs[3] or []) == 1
    (started,) = env.background.started
    assert started["agent_id"] == sleeper and started["task"] == "remember"
    assert "question 0" in started["text"] and "question 3" not in started["text"]
    assert _context_size(env, main) == 5
    assert env.model.order == ["voice"] * 4  # the sleeptime agent only runs in the background
    for response in responses:
        assert speakers(response) == ["voice"]
        check_usage_sums(response)
    # The transcript keeps everything; the main agent's context no longer does.
    assert [t.text for t in env.transcript(group)][:2] == ["question 0", "answer 0"]
    env.send(group, "question 4")
    shown = [text for _, _, text in env.seen_by("voice", 4)]
    assert "question 0" not in shown and "answer 0" not in shown
    assert shown[-3:] == ["question 3", "answer 3", "question 4"]


@pytest.mark.parametrize(
    ("bounds", "rule"),
    [
        ({"max_message_buffer_length": 10}, "given together"),
        ({"max_message_buffer_length": 10, "min_message_buffer_length": 3}, "greater than 4"),
        ({"max_message_buffer_length": 8, "min_message_buffer_length": 8}, "greater than min"),
    ],
)
def test_buffer_bounds_are_checked_with_the_rule_that_failed(
    env: Groups, bounds: dict[str, int], rule: str
) -> None:
    main = env.agent("voice")
    with pytest.raises(BadRequestError, match=rule):
        env.group([], manager_type="voice_sleeptime", manager_agent_id=main, **bounds)


def _bounds(env: Groups, group_id: str) -> tuple[int | None, int | None]:
    record = env.group_record(group_id)
    return record.max_message_buffer_length, record.min_message_buffer_length


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"max_message_buffer_length": 40}, (40, 12)),
        ({"min_message_buffer_length": 8}, (20, 8)),
        ({"max_message_buffer_length": None}, (20, 12)),
        ({"max_message_buffer_length": 30, "min_message_buffer_length": 25}, (30, 25)),
    ],
)
def test_an_update_of_one_bound_keeps_the_other(
    env: Groups, change: dict[str, int | None], expected: tuple[int, int]
) -> None:
    main = env.agent("voice")
    group = env.group(
        [],
        manager_type="voice_sleeptime",
        manager_agent_id=main,
        max_message_buffer_length=20,
        min_message_buffer_length=12,
    )
    env.groups.update(TENANT, group, GroupUpdate(manager_config=change))
    assert _bounds(env, group) == expected


def test_a_group_made_without_bounds_fills_the_other_from_the_defaults(env: Groups) -> None:
    main = env.agent("voice")
    first = env.group([], manager_type="voice_sleeptime", manager_agent_id=main)
    second = env.group([], manager_type="voice_sleeptime", manager_agent_id=env.agent("v2"))
    assert _bounds(env, first) == (None, None)
    env.groups.update(TENANT, first, GroupUpdate(manager_config={"max_message_buffer_length": 50}))
    env.groups.update(TENANT, second, GroupUpdate(manager_config={"min_message_buffer_length": 9}))
    assert _bounds(env, first) == (50, 15)
    assert _bounds(env, second) == (30, 9)


def test_a_one_sided_update_still_obeys_the_rules(env: Groups) -> None:
    main = env.agent("voice")
    group = env.group(
        [],
        manager_type="voice_sleeptime",
        manager_agent_id=main,
        max_message_buffer_length=20,
        min_message_buffer_length=12,
    )
    too_high = GroupUpdate(manager_config={"min_message_buffer_length": 25})
    with pytest.raises(BadRequestError, match="greater than min"):
        env.groups.update(TENANT, group, too_high)
    with pytest.raises(BadRequestError, match="greater than 4"):
        env.groups.update(
            TENANT, group, GroupUpdate(manager_config={"min_message_buffer_length": 3})
        )
    assert _bounds(env, group) == (20, 12)
