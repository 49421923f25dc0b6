"""voice_sleeptime on scripted models: the main agent answers; when its context passes the
buffer's max, the oldest messages down to the min leave it and go to the sleeptime agent."""

from __future__ import annotations

import pytest

from core.errors import BadRequestError
from core.records import AgentRecord
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
