"""A reset clears one group's conversation and nothing else (as Letta deletes only that
group's messages), and changes that race a running send are refused with 409 rather than
pulling members or messages from under it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.errors import ConflictError
from core.llm import ChatRequest, ChatResponse
from core.schemas.groups import GroupUpdate
from core.services.message_edits import MessageEdit
from tests.fakes import FakeClock
from tests.unit.groups.conftest import TENANT, Groups, reply


def test_a_reset_forgets_that_groups_messages_and_keeps_the_members_other_groups(
    env: Groups,
) -> None:
    ann, bob, cid = env.agent("ann"), env.agent("bob"), env.agent("cid")
    group_a, group_b = env.group([ann, bob]), env.group([ann, cid])
    env.model.script("ann", reply("ann in A"), reply("ann in B"))
    env.model.script("bob", reply("bob in A"))
    env.model.script("cid", reply("cid in B"))
    env.send(group_a, "topic A")
    env.send(group_b, "topic B")

    env.messages.reset(TENANT, group_a)

    assert env.listed(group_a) == []
    assert {m.group_id for m in env.history(ann)} == {group_b}
    assert env.history(bob) == []  # bob was only ever in A
    env.model.script("ann", reply("ann in B again"))
    env.model.script("cid", reply("cid in B again"))
    env.send(group_b, "more B")
    seen = " | ".join(text for _, _, text in env.seen_by("ann"))
    assert "topic B" in seen and "ann in B" in seen and "cid in B" in seen
    assert "topic A" not in seen and "bob in A" not in seen


def _during_anns_turn(env: Groups, change: Callable[[], object]) -> list[Exception]:
    """Run `change` while ann's turn of a send is under way; what it raised."""
    raised: list[Exception] = []

    def meanwhile(request: ChatRequest) -> ChatResponse:
        try:
            change()
        except Exception as error:  # noqa: BLE001 - the test looks at it
            raised.append(error)
        return reply("ann speaks")

    env.model.script("ann", meanwhile)
    return raised


@pytest.mark.parametrize(
    "change", ["reset", "remove member", "delete member", "delete group", "edit message"]
)
def test_changes_racing_a_send_are_refused_and_the_send_finishes_whole(
    env: Groups, change: str
) -> None:
    ann, bob = env.agent("ann"), env.agent("bob")
    group = env.group([ann, bob])
    env.model.script("ann", reply("warm-up"))
    env.model.script("bob", reply("warm-up"))
    env.send(group, "first")
    first_user = next(m for m in env.transcript(group) if m.role == "user")
    changes: dict[str, Callable[[], object]] = {
        "reset": lambda: env.messages.reset(TENANT, group),
        "remove member": lambda: env.groups.update(TENANT, group, GroupUpdate(agent_ids=[ann])),
        "delete member": lambda: env.agents.delete(TENANT, bob),
        "delete group": lambda: env.groups.delete(TENANT, group),
        "edit message": lambda: MessageEdit(env.store, FakeClock()).apply(
            TENANT, group, first_user.id, "user_message", "rewritten"
        ),
    }
    raised = _during_anns_turn(env, changes[change])
    env.model.script("bob", reply("bob speaks"))

    answer = env.send(group, "second")

    assert [type(e) for e in raised] == [ConflictError]
    assert "has a send in progress" in str(raised[0])
    assert answer.stop_reason.stop_reason == "end_turn"
    assert [m.name for m in answer.messages if m.message_type == "assistant_message"] == [
        "ann",
        "bob",
    ]
    # Once the send is over, the change goes through.
    changes[change]()


def test_an_edit_reaches_every_members_copy(env: Groups) -> None:
    ann, bob = env.agent("ann"), env.agent("bob")
    group = env.group([ann, bob])
    env.model.script("ann", reply("ann: soup?"), reply("ann again"))
    env.model.script("bob", reply("bob: sure"), reply("bob again"))
    env.send(group, "lunch plans")
    said = {t.text: t.id for t in env.transcript(group)}
    edits = MessageEdit(env.store, FakeClock())

    edits.apply(TENANT, group, said["lunch plans"], "user_message", "dinner plans")
    edits.apply(TENANT, group, said["ann: soup?"], "assistant_message", "ann: salad?")

    texts = {a: [m.text for m in env.history(a)] for a in (ann, bob)}
    assert "dinner plans" in texts[ann] and "dinner plans" in texts[bob]
    assert "ann: salad?" in texts[ann] and "ann: salad?" in texts[bob]
    assert not {"lunch plans", "ann: soup?"} & {t for ts in texts.values() for t in ts}
    env.send(group, "and tomorrow?")
    assert "ann: salad?" in [text for _, _, text in env.seen_by("bob")]
