"""round_robin on scripted models: order, what each member is shown, transcript, usage,
and members that misbehave."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from core.errors import ConcurrentModificationError, SendInterruptedError
from core.llm import ChatRequest, ChatResponse, ModelServerError
from core.ports import Change, Put
from core.records import BlockRecord, GroupRecord
from tests.unit.groups.conftest import (
    TENANT,
    Groups,
    call,
    check_usage_sums,
    kinds,
    reply,
    speakers,
)


def _trio(env: Groups, **manager: object) -> tuple[list[str], str]:
    members = [env.agent(name) for name in ("ann", "bob", "cid")]
    return members, env.group(members, **manager)


def test_members_speak_in_order_and_each_sees_only_what_it_has_not_seen(env: Groups) -> None:
    members, group = _trio(env)
    env.model.script("ann", reply("ann: plan A", thought="ann thinks privately"))
    env.model.script("bob", reply("bob: agree"))
    env.model.script("cid", reply("cid: ship it"))

    response = env.send(group, "what now?")

    assert speakers(response) == ["ann", "ann", "bob", "cid"]
    assert kinds(response) == [
        "reasoning_message",
        "assistant_message",
        "assistant_message",
        "assistant_message",
    ]
    assert response.stop_reason.stop_reason == "end_turn"
    assert env.model.order == ["ann", "bob", "cid"]
    assert env.seen_by("ann") == [("user", None, "what now?")]
    # bob gets the input and ann's reply, with her name; never her reasoning.
    assert env.seen_by("bob") == [("user", None, "what now?"), ("user", "ann", "ann: plan A")]
    assert all("privately" not in text for _, _, text in env.seen_by("cid"))
    assert [n for _, n, _ in env.seen_by("cid")] == [None, "ann", "bob"]
    assert response.usage.step_count == 3
    assert [a.name for a in response.usage.by_agent or []] == ["ann", "bob", "cid"]
    check_usage_sums(response)
    transcript = env.transcript(group)
    assert [(t.role, t.name) for t in transcript] == [
        ("user", None),
        ("assistant", "ann"),
        ("assistant", "bob"),
        ("assistant", "cid"),
    ]
    # Each reply in the transcript is the speaker's own message, under the same id.
    own = {m.id for m in env.history(members[1]) if m.role == "assistant"}
    assert transcript[2].id in own


def test_second_send_relays_only_the_replies_a_member_missed(env: Groups) -> None:
    _, group = _trio(env)
    for name in ("ann", "bob", "cid"):
        env.model.script(name, reply(f"{name} one"), reply(f"{name} two"))
    env.send(group, "first")
    env.send(group, "second")
    # ann already had the first input and her own reply; she gets bob's, cid's and the
    # new input, in order.
    assert env.seen_by("ann", 1)[-3:] == [
        ("user", "bob", "bob one"),
        ("user", "cid", "cid one"),
        ("user", None, "second"),
    ]
    assert [t for _, _, t in env.seen_by("ann", 1)].count("first") == 1


def test_max_turns_wraps_around_the_members(env: Groups) -> None:
    _, group = _trio(env, max_turns=4)
    env.model.script("ann", reply("a1"), reply("a2"))
    env.model.script("bob", reply("b1"))
    env.model.script("cid", reply("c1"))
    response = env.send(group)
    assert env.model.order == ["ann", "bob", "cid", "ann"]
    assert [getattr(m, "content", None) for m in response.messages] == ["a1", "b1", "c1", "a2"]
    assert env.seen_by("ann", 1)[-2:] == [("user", "bob", "b1"), ("user", "cid", "c1")]


def test_a_failing_member_stops_the_send_and_keeps_what_came_before(env: Groups) -> None:
    _, group = _trio(env)
    env.model.script("ann", reply("ann fine"))
    env.model.script("bob", ModelServerError("upstream down", status=503))
    response = env.send(group)
    assert response.stop_reason.stop_reason == "llm_api_error"
    assert env.model.order == ["ann", "bob"]  # cid never runs
    assert speakers(response) == ["ann", "bob"]
    assert response.messages[-1].is_err is True  # type: ignore[attr-defined]
    # The failed step is not relayed as speech: the transcript holds input, ann, bob's error.
    assert [t.name for t in env.transcript(group)] == [None, "ann", "bob"]


def test_a_member_that_never_stops_ends_the_send_with_max_steps(env: Groups) -> None:
    _, group = _trio(env)
    env.model.script("ann", *[call("conversation_search", '{"query": "x"}')] * 3)
    response = env.send(group, max_steps=3)
    assert response.stop_reason.stop_reason == "max_steps"
    assert env.model.order == ["ann"] * 3
    assert response.usage.step_count == 3
    check_usage_sums(response)


def test_a_write_that_keeps_losing_mid_send_interrupts_it_and_frees_the_group(
    env: Groups,
) -> None:
    """After the input is saved, replaying the send would save it twice: a write that
    keeps losing its race ends the send as interrupted (not retryable), keeping what came
    before, and the group is free for the next send."""
    ann = env.agent("ann", memory_blocks=[{"label": "human", "value": ""}])
    group = env.group([ann, env.agent("bob")])
    real_write = env.store.write

    def contended(tenant: str, changes: Sequence[Change]) -> None:
        if any(isinstance(c.record, BlockRecord) for c in changes):
            raise ConcurrentModificationError("moved", ("block block-x",))
        real_write(tenant, changes)

    env.store.write = contended  # type: ignore[method-assign]
    env.model.script("ann", call("memory_insert", '{"label": "human", "new_str": "tea"}'))
    with pytest.raises(SendInterruptedError, match="Block block-x kept changing while this send"):
        env.send(group, "remember tea")
    assert [t.role for t in env.transcript(group)] == ["user"]
    env.store.write = real_write  # type: ignore[method-assign]
    env.model.script("ann", reply("ann again"))
    env.model.script("bob", reply("bob again"))
    assert env.send(group, "next").stop_reason.stop_reason == "end_turn"


def test_a_send_that_lost_the_group_leaves_the_new_holder_undisturbed(env: Groups) -> None:
    """The lease ran out and another send took the group: the first send stops as
    interrupted and does not touch the group on its way out."""
    _, group = _trio(env)
    taken: list[GroupRecord] = []

    def take_over(_: ChatRequest) -> ChatResponse:
        record = env.group_record(group)
        stolen = record.model_copy(
            update={"lease_id": "lease-other", "version": record.version + 1}
        )
        env.store.write(TENANT, [Put(stolen, record.version)])
        taken.append(stolen)
        return reply("ann too late")

    env.model.script("ann", take_over)
    with pytest.raises(SendInterruptedError, match="taken over"):
        env.send(group)
    assert env.group_record(group).version == taken[0].version
    assert env.group_record(group).lease_id == "lease-other"


def test_a_member_catching_up_on_more_than_one_write_holds_still_speaks() -> None:
    """A store that changes at most 10 records at once: bob, silent for a while, catches up
    on 8 entries, which fit in his step's write but not beside the group and the transcript
    copies; the publication goes in a write of its own (no TooManyChangesError after the
    model call)."""
    from core.ports import StoreLimits
    from core.schemas.groups import GroupUpdate
    from tests.fakes import InMemoryStore
    from tests.unit.groups.conftest import make_groups

    env = make_groups()
    small = StoreLimits(
        max_changes_per_write=10, max_record_bytes=400_000, max_write_bytes=4_000_000
    )
    env.store.limits = small
    ann, bob = env.agent("ann"), env.agent("bob")
    group = env.group([ann, bob], max_turns=1)  # only ann speaks: bob falls behind
    for n in range(3):
        env.model.script("ann", reply(f"ann {n}"))
        env.send(group, f"point {n}")
    env.groups.update(TENANT, group, GroupUpdate(manager_config={"max_turns": 2}))
    env.model.script("ann", reply("ann 3"))
    env.model.script("bob", reply("bob at last"))

    answer = env.send(group, "bob?")

    assert answer.stop_reason.stop_reason == "end_turn"
    assert [t.text for t in env.transcript(group)][-1] == "bob at last"
    assert len([m for m in env.history(bob) if m.role == "user"]) == 8
    assert isinstance(env.store, InMemoryStore)
