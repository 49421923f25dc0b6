"""A send has a wall-clock deadline: past it, the send stops before its next turn with
stop reason `cancelled`, keeping (and returning) what it produced."""

from __future__ import annotations

from datetime import timedelta

from core.llm import ChatRequest, ChatResponse
from core.services.group_messages import GroupMessageService
from tests.unit.groups.conftest import Groups, reply, speakers


def test_a_send_past_its_deadline_stops_between_turns(env: Groups) -> None:
    members = [env.agent(name) for name in ("ann", "bob")]
    group = env.group(members, max_turns=100)
    clock = env.messages._clock  # the FakeClock the service reads

    def slow(text: str):  # noqa: ANN202 - a scripted model step
        def step(_: ChatRequest) -> ChatResponse:
            clock._now += timedelta(seconds=25)  # type: ignore[attr-defined]
            return reply(text)

        return step

    for name in ("ann", "bob"):
        env.model.script(name, *(slow(f"{name} {i}") for i in range(50)))
    env.messages = GroupMessageService(env.store, clock, env.messages._engine, send_deadline_s=60)

    response = env.send(group, "go")

    assert response.stop_reason.stop_reason == "cancelled"
    # 25 s a turn: the deadline passes during the third turn; the fourth never starts.
    assert speakers(response) == ["ann", "bob", "ann"]
    assert env.model.order == ["ann", "bob", "ann"]
    assert [t.name for t in env.transcript(group)] == [None, "ann", "bob", "ann"]
    assert env.group_record(group).lease_id is None, "the group is free again"


def test_a_send_within_its_deadline_runs_every_turn(env: Groups) -> None:
    members = [env.agent(name) for name in ("ann", "bob")]
    group = env.group(members, max_turns=4)
    for name in ("ann", "bob"):
        env.model.script(name, reply(f"{name} 1"), reply(f"{name} 2"))
    response = env.send(group, "go")
    assert response.stop_reason.stop_reason == "end_turn"
    assert len(response.messages) == 4
