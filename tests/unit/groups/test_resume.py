"""A keyed send whose process died resumes from its last committed step (core.groups.journal):
sent again with the same key, it replays what was committed (no model or tool call twice),
sets aside what an interrupted turn had half-saved, and answers, and leaves the transcript,
as an uninterrupted send would."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from core.errors import ConflictError
from core.llm import ChatRequest, ChatResponse
from core.runtime.agent_loop import AgentLoop
from core.schemas.messages import LettaRequest, LettaResponse
from tests.fakes import Killed, MortalStore, RecordingMetrics
from tests.normalize import normalized
from tests.unit.groups.conftest import (
    TENANT,
    Groups,
    call,
    check_usage_sums,
    make_groups,
    reply,
)

BROADCAST = "send_message_to_all_agents_in_group"


class Harness(Groups):
    def die(self) -> Callable[[ChatRequest], ChatResponse]:
        """A script step: the process dies while this model call is under way."""

        def step(request: ChatRequest) -> ChatResponse:
            assert isinstance(self.store, MortalStore)
            self.store.dead = True
            raise Killed()

        return step

    def keyed(self, group_id: str, key: str | None, text: str = "plan the trip") -> LettaResponse:
        request = LettaRequest(messages=[{"role": "user", "content": text}])
        return self.messages.send(TENANT, group_id, request, key=key)

    def restart(self) -> None:
        """A new process, once the dead one's lease has run out."""
        assert isinstance(self.store, MortalStore)
        self.store.dead = False
        self.clock._now += timedelta(minutes=4)


def harness() -> Harness:
    return make_groups(MortalStore(), Harness)


def _said(env: Harness, group_id: str) -> list[tuple[str | None, str, str | None]]:
    return normalized([(r.name, r.role, r.text) for r in env.transcript(group_id)])


def _answer(response: LettaResponse) -> list[tuple[str, str | None, str | None]]:
    out = []
    for m in response.messages:
        text = getattr(m, "content", None) or getattr(m, "reasoning", None)
        out.append((m.message_type, getattr(m, "name", None), str(text)))
    return out


def _round_robin(env: Harness, *, kill_bob: bool, tool_first: bool = False) -> str:
    names = ["ann", "bob", "cid"]
    ids = [env.agent(n) for n in names]
    env.model.script("ann", reply("ann: go north", thought="north"))
    look_up = call("conversation_search", json.dumps({"query": "trip"}))
    if kill_bob and tool_first:  # bob's lookup step is saved, then he dies; done again
        env.model.script("bob", look_up, env.die(), look_up)
    elif kill_bob:
        env.model.script("bob", env.die())
    elif tool_first:
        env.model.script("bob", look_up)
    env.model.script("bob", reply("bob: agreed", thought="fine"))
    env.model.script("cid", reply("cid: booked", thought="done"))
    return env.group(ids)


@pytest.mark.parametrize("tool_first", [False, True], ids=["between-turns", "mid-turn"])
def test_a_round_robin_send_killed_resumes_and_ends_as_if_never_interrupted(
    tool_first: bool,
) -> None:
    calm = harness()
    calm_group = _round_robin(calm, kill_bob=False, tool_first=tool_first)
    expected = calm.keyed(calm_group, "k-1")

    env = harness()
    group = _round_robin(env, kill_bob=True, tool_first=tool_first)
    with pytest.raises(Killed):
        env.keyed(group, "k-1")
    held = env.group_record(group)
    assert held.lease_id is not None and held.journal is not None  # it died holding them
    with pytest.raises(ConflictError):
        env.keyed(group, "k-1")  # the dead send's lease has not run out yet
    env.restart()

    resumed = env.keyed(group, "k-1")

    assert _answer(resumed) == _answer(expected)
    assert resumed.stop_reason.stop_reason == "end_turn"
    assert normalized(resumed.usage.model_dump()) == normalized(expected.usage.model_dump())
    check_usage_sums(resumed)
    assert _said(env, group) == _said(calm, calm_group)
    assert env.model.order.count("ann") == 1  # ann's committed turn was not redone
    bob = env.group_record(group).agent_ids[1]
    calm_bob = calm.group_record(calm_group).agent_ids[1]
    # Bob was given each message once: what his interrupted turn saved was set aside.
    assert [(m.role, m.text) for m in env.history(bob)] == [
        (m.role, m.text) for m in calm.history(calm_bob)
    ]
    assert env.group_record(group).journal is None and env.group_record(group).lease_id is None


def test_a_new_key_after_a_dead_send_starts_over_rather_than_resuming() -> None:
    env = harness()
    group = _round_robin(env, kill_bob=True)
    with pytest.raises(Killed):
        env.keyed(group, "k-1")
    env.restart()
    env.model.script("ann", reply("ann: again"))
    env.keyed(group, "k-2", text="second try")
    assert env.model.order.count("ann") == 2
    said = [t for _, role, t in _said(env, group) if role == "user"]
    assert said == ["plan the trip", "second try"]


def test_a_supervisor_killed_after_its_workers_answered_does_not_ask_them_again() -> None:
    def team(env: Harness, die: bool) -> str:
        boss, workers = env.agent("boss"), [env.agent("wes"), env.agent("val")]
        env.model.script("wes", reply("wes: 3 days"))
        env.model.script("val", reply("val: 2 days"))
        ask = call(BROADCAST, json.dumps({"message": "estimate?"}), thought="ask")
        env.model.script("boss", ask)
        if die:
            env.model.script("boss", env.die(), ask)
        env.model.script("boss", reply("About 3 days.", thought="wes is slower"))
        return env.group(workers, manager_type="supervisor", manager_agent_id=boss)

    calm = harness()
    calm_group = team(calm, die=False)
    expected = calm.keyed(calm_group, "k")
    env = harness()
    group = team(env, die=True)
    with pytest.raises(Killed):
        env.keyed(group, "k")
    env.restart()

    resumed = env.keyed(group, "k")

    assert env.model.order.count("wes") == 1 and env.model.order.count("val") == 1
    assert [m.message_type for m in resumed.messages] == [m.message_type for m in expected.messages]
    assert _said(env, group) == _said(calm, calm_group)
    assert env.group_record(group).journal is None


def test_a_tool_with_a_side_effect_in_a_committed_turn_runs_once() -> None:
    env = harness()
    ann = env.agent("ann", memory_blocks=[{"label": "human", "value": ""}])
    bob = env.agent("bob")
    env.model.script(
        "ann", call("memory_insert", '{"label": "human", "new_str": "likes tea"}'), reply("noted")
    )
    env.model.script("bob", env.die(), reply("bob: tea it is"))
    group = env.group([ann, bob])
    with pytest.raises(Killed):
        env.keyed(group, "k")
    env.restart()

    resumed = env.keyed(group, "k")

    assert resumed.stop_reason.stop_reason == "end_turn"
    block = env.agents.get(TENANT, ann).memory.blocks[0]
    assert block.value.count("likes tea") == 1
    assert env.model.order == ["ann", "ann", "bob", "bob"]
    assert [m.message_type for m in resumed.messages].count("tool_return_message") == 1


def test_a_resumed_stream_streams_the_replayed_turns_too() -> None:
    env = harness()
    group = _round_robin(env, kill_bob=True)
    with pytest.raises(Killed):
        env.keyed(group, "k-1")
    env.restart()
    streamed: list[str | None] = []
    request = LettaRequest(messages=[{"role": "user", "content": "plan the trip"}])

    resumed = env.messages.send(
        TENANT,
        group,
        request,
        emit=lambda messages: streamed.extend(getattr(m, "name", None) for m in messages),
        key="k-1",
    )

    assert [getattr(m, "name", None) for m in resumed.messages] == streamed
    assert streamed.count("ann") == 2  # ann's replayed reasoning and reply are in the stream


def test_a_resumed_send_keeps_what_a_member_was_given_in_a_direct_chat_meanwhile() -> None:
    """After the crash, cid is messaged directly and given the group's news then; resuming
    sets aside only what the dead send saved, so those copies stay, and stay single."""
    from core.services.agent_messages import AgentMessageService

    env = harness()
    group = _round_robin(env, kill_bob=True)
    with pytest.raises(Killed):
        env.keyed(group, "k-1")
    env.restart()
    cid = env.group_record(group).agent_ids[2]
    direct = AgentMessageService(
        env.store, env.clock, AgentLoop(env.store, env.clock, env.model, RecordingMetrics())
    )
    env.model.script("cid", reply("cid: hello you"))
    direct.send(TENANT, cid, LettaRequest(messages=[{"role": "user", "content": "hi cid"}]))

    resumed = env.keyed(group, "k-1")

    assert resumed.stop_reason.stop_reason == "end_turn"
    texts = [m.text for m in env.history(cid) if m.role == "user"]
    assert texts.count("plan the trip") == 1 and "hi cid" in texts
