"""An approval resumes the pattern, not just the waiting agent: after the approved (or
denied) call, later round_robin speakers speak and a supervisor's manager finishes, and the
two responses together equal a send whose tool needed no approval, plus the approval
messages (core.groups.journal keeps the paused send's steps)."""

from __future__ import annotations

import json

from core.schemas.messages import LettaRequest, LettaResponse
from tests.unit.groups.conftest import (
    TENANT,
    Groups,
    call,
    check_usage_sums,
    make_groups,
    reply,
)

CAREFUL = [{"type": "requires_approval", "tool_name": "memory_insert"}]
INSERT = '{"label": "human", "new_str": "likes tea"}'
APPROVAL_KINDS = ["approval_response_message", "tool_return_message"]


def _approve(env: Groups, group_id: str, paused: LettaResponse, approve: bool) -> LettaResponse:
    request = paused.messages[-1]
    assert request.message_type == "approval_request_message"
    call_id = request.tool_call.tool_call_id  # type: ignore[attr-defined]
    decision = {
        "type": "approval",
        "approvals": [{"type": "approval", "tool_call_id": call_id, "approve": approve}],
    }
    return env.messages.send(TENANT, group_id, LettaRequest(messages=[decision]))


def _trio(env: Groups, rules: list[dict[str, str]] | None) -> str:
    ann = env.agent("ann", memory_blocks=[{"label": "human", "value": ""}], tool_rules=rules)
    env.model.script("ann", call("memory_insert", INSERT, thought="note it"), reply("noted"))
    env.model.script("bob", reply("bob: tea then"))
    env.model.script("cid", reply("cid: green tea"))
    return env.group([ann, env.agent("bob"), env.agent("cid")])


def _said(env: Groups, group_id: str) -> list[tuple[str | None, str | None]]:
    return [(t.name, t.text) for t in env.transcript(group_id) if t.role != "tool"]


def test_round_robin_goes_on_to_the_next_speakers_after_an_approval(env: Groups) -> None:
    group = _trio(env, CAREFUL)
    paused = env.send(group, "I like tea")
    assert paused.stop_reason.stop_reason == "requires_approval"
    assert env.model.order == ["ann"]

    resumed = _approve(env, group, paused, approve=True)

    assert resumed.stop_reason.stop_reason == "end_turn"
    kinds = [m.message_type for m in resumed.messages]
    assert kinds[:2] == APPROVAL_KINDS
    assert [m.name for m in resumed.messages if m.message_type == "assistant_message"] == [
        "ann",
        "bob",
        "cid",
    ]
    assert env.model.order == ["ann", "ann", "bob", "cid"]
    check_usage_sums(resumed)
    assert resumed.usage.step_count == 3  # ann's second step, bob, cid: nothing replayed
    assert env.group_record(group).journal is None  # the send is over

    other = make_groups()  # the same send, its tool needing no approval
    other_group = _trio(other, None)
    whole = other.send(other_group, "I like tea")
    assert _said(env, group) == _said(other, other_group)
    both = [m.message_type for m in [*paused.messages, *resumed.messages]]
    approval_only = ("approval_request_message", *APPROVAL_KINDS)
    plain_call = ("tool_call_message", "tool_return_message")
    assert [k for k in both if k not in approval_only] == [
        k for k in (m.message_type for m in whole.messages) if k not in plain_call
    ]


def test_a_denied_call_lets_the_pattern_go_on_too(env: Groups) -> None:
    group = _trio(env, CAREFUL)
    paused = env.send(group, "I like tea")
    resumed = _approve(env, group, paused, approve=False)
    assert resumed.stop_reason.stop_reason == "end_turn"
    assert env.model.order == ["ann", "ann", "bob", "cid"]
    block = env.agents.get(TENANT, env.group_record(group).agent_ids[0]).memory.blocks[0]
    assert "tea" not in block.value


def test_a_supervisor_whose_broadcast_needs_approval_gets_its_workers_replies_after_it(
    env: Groups,
) -> None:
    broadcast = "send_message_to_all_agents_in_group"
    boss = env.agent("boss", tool_rules=[{"type": "requires_approval", "tool_name": broadcast}])
    workers = [env.agent("wes"), env.agent("val")]
    env.model.script("wes", reply("wes: 3 days"))
    env.model.script("val", reply("val: 2 days"))
    ask = call(broadcast, json.dumps({"message": "estimate?"}), "ask the team")
    env.model.script("boss", ask, reply("About 3 days.", thought="wes is slower"))
    group = env.group(workers, manager_type="supervisor", manager_agent_id=boss)
    paused = env.send(group, "how long?")
    assert paused.stop_reason.stop_reason == "requires_approval"
    assert env.model.order == ["boss"]  # nobody was asked yet

    resumed = _approve(env, group, paused, approve=True)

    assert resumed.stop_reason.stop_reason == "end_turn"
    kinds = [m.message_type for m in resumed.messages]
    assert kinds[0] == "approval_response_message"
    result = next(m for m in resumed.messages if m.message_type == "tool_return_message")
    entries = json.loads(result.tool_return)  # type: ignore[attr-defined]
    assert [e["response"] for e in entries] == ["wes: 3 days", "val: 2 days"]
    assert kinds[-1] == "assistant_message"
    assert sorted(env.model.order) == ["boss", "boss", "val", "wes"]
    # The workers' replies reached the boss through its tool: they are not relayed again.
    assert env.group_record(group).seen[boss] == env.group_record(group).next_transcript_seq - 1
