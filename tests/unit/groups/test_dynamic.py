"""dynamic on scripted models: the manager's choice, its validation and fallback, the
termination token, max_turns, and what the manager and speakers are shown."""

from __future__ import annotations

from core.groups.dynamic import match_member, next_in_order
from tests.unit.groups.conftest import Groups, check_usage_sums, reply, speakers


def _panel(env: Groups, **manager: object) -> tuple[str, list[str], str]:
    host = env.agent("host")
    members = [env.agent(n) for n in ("ann", "bob", "cid")]
    group = env.group(members, manager_type="dynamic", manager_agent_id=host, **manager)
    return host, members, group


def test_the_manager_picks_each_speaker_and_the_token_ends_the_send(env: Groups) -> None:
    _, _, group = _panel(env)
    env.model.script("host", reply("bob", thought="bob knows"), reply("cid"))
    env.model.script("bob", reply("bob speaks"))
    env.model.script("cid", reply("cid says DONE!"))

    response = env.send(group, "discuss")

    assert response.stop_reason.stop_reason == "end_turn"
    assert env.model.order == ["host", "bob", "host", "cid"]
    # The manager's reasoning and answer come before each speaker's messages.
    assert speakers(response) == ["host", "host", "bob", "host", "cid"]
    # The manager is shown the transcript as name: text lines and the candidates.
    prompt = env.seen_by("host", 1)[-1][2]
    assert "bob: bob speaks" in prompt and "Candidates: ann, cid." in prompt
    # Its choices stay out of the transcript; the speakers' replies are in it.
    assert [t.name for t in env.transcript(group)] == [None, "bob", "cid"]
    assert response.usage.step_count == 4
    check_usage_sums(response)


def test_naming_two_members_gets_one_corrective_retry(env: Groups) -> None:
    _, _, group = _panel(env, max_turns=1)
    env.model.script("host", reply("ann or bob"), reply("ann"))
    env.model.script("ann", reply("ann here"))
    response = env.send(group)
    assert env.model.order == ["host", "host", "ann"]
    assert "does not name exactly one candidate" in env.seen_by("host", 1)[-1][2]
    assert response.usage.by_agent is not None
    assert [a.step_count for a in response.usage.by_agent if a.name == "host"] == [2]


def test_no_valid_choice_after_the_retry_falls_back_to_the_next_member(env: Groups) -> None:
    _, _, group = _panel(env, max_turns=2)
    env.model.script("host", reply("nobody"), reply("everyone"), reply("?"), reply("??"))
    env.model.script("ann", reply("ann first"))
    env.model.script("bob", reply("bob next"))
    env.send(group)
    assert [n for n in env.model.order if n != "host"] == ["ann", "bob"]


def test_max_turns_ends_the_send_with_end_turn(env: Groups) -> None:
    """As Letta: the conversation ran as configured; max_steps is an agent's step limit."""
    _, _, group = _panel(env, max_turns=2)
    env.model.script("host", reply("ann"), reply("bob"))
    env.model.script("ann", reply("a"))
    env.model.script("bob", reply("b"))
    response = env.send(group)
    assert env.model.order == ["host", "ann", "host", "bob"]
    assert response.stop_reason.stop_reason == "end_turn"


def test_the_previous_speaker_is_never_a_candidate(env: Groups) -> None:
    _, _, group = _panel(env, max_turns=2)
    # The manager insists on ann twice: the second time she is not a candidate.
    env.model.script("host", reply("ann"), reply("ann"), reply("ann"))
    env.model.script("ann", reply("a"))
    env.model.script("bob", reply("b"))
    env.send(group)
    assert "Candidates: bob, cid." in env.seen_by("host", 1)[-1][2]
    assert [n for n in env.model.order if n != "host"] == ["ann", "bob"]


def test_match_member_takes_ids_and_whole_word_names_only() -> None:
    names = {"agent-1": "Al", "agent-2": "Alice"}
    candidates = list(names)
    assert match_member("agent-2 please", candidates, names) == "agent-2"
    assert match_member("alice", candidates, names) == "agent-2"
    assert match_member("AL should go", candidates, names) == "agent-1"
    assert match_member("Al and Alice", candidates, names) is None
    assert match_member("Alfred", candidates, names) is None
    assert next_in_order(["a", "b", "c"], ["a", "c"], "c") == "a"
