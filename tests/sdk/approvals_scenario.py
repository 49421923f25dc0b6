"""Approvals in groups through the official `letta-client==1.7.0` SDK in strict mode.

    .venv-sdk/bin/python tests/sdk/approvals_scenario.py --base-url URL [--api-key K]

On the server's offline model (it stores what it is asked to remember): an agent whose
`memory_insert` needs approval pauses its round_robin group; the approval (sent through
`groups.messages.create`) lets the agent finish and the later members speak. A supervisor
whose broadcast needs approval asks its workers once it is approved, and answers with their
replies. Exits non-zero with the failed check.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from crud_scenario import Checks, run_steps
from letta_client import Letta

CAREFUL = [{"type": "requires_approval", "tool_name": "memory_insert"}]
MEMORY = [{"label": "human", "value": "(nothing yet)"}]


def approve(client: Letta, group_id: str, paused: Any) -> Any:
    request = paused.messages[-1]
    decision = {
        "type": "approval",
        "approvals": [
            {"type": "approval", "tool_call_id": request.tool_call.tool_call_id, "approve": True}
        ],
    }
    return client.groups.messages.create(group_id, messages=[decision])


def round_robin(client: Letta, check: Checks, created: list[tuple[str, str]]) -> None:
    ann = client.agents.create(name="ann", memory_blocks=MEMORY, tool_rules=CAREFUL)
    bob = client.agents.create(name="bob")
    cid = client.agents.create(name="cid")
    created += [("agent", a.id) for a in (ann, bob, cid)]
    group = client.groups.create(agent_ids=[ann.id, bob.id, cid.id], description="careful")
    created.append(("group", group.id))

    paused = client.groups.messages.create(group.id, input="please remember that I like tea")
    check.eq(paused.stop_reason.stop_reason, "requires_approval", "round_robin pauses")
    check.eq(paused.messages[-1].message_type, "approval_request_message", "it asks")
    resumed = approve(client, group.id, paused)
    check.eq(resumed.stop_reason.stop_reason, "end_turn", "round_robin after the approval")
    kinds = [m.message_type for m in resumed.messages]
    check.eq(kinds[:2], ["approval_response_message", "tool_return_message"], "decision first")
    speakers = [m.name for m in resumed.messages if m.message_type == "assistant_message"]
    check.eq(speakers, ["ann", "bob", "cid"], "the later members speak after the approval")
    human = next(b for b in client.agents.retrieve(ann.id).memory.blocks if b.label == "human")
    check.true("tea" in human.value, f"the approved call ran: {human.value!r}")


def supervisor(client: Letta, check: Checks, created: list[tuple[str, str]]) -> None:
    careful = [{"type": "requires_approval", "tool_name": "send_message_to_all_agents_in_group"}]
    boss = client.agents.create(name="boss", tool_rules=careful)
    wes = client.agents.create(name="wes")
    val = client.agents.create(name="val")
    created += [("agent", a.id) for a in (boss, wes, val)]
    group = client.groups.create(
        agent_ids=[wes.id, val.id],
        description="careful boss",
        manager_config={"manager_type": "supervisor", "manager_agent_id": boss.id},
    )
    created.append(("group", group.id))

    paused = client.groups.messages.create(group.id, input="how long will it take?")
    check.eq(paused.stop_reason.stop_reason, "requires_approval", "the broadcast waits")
    resumed = approve(client, group.id, paused)
    check.eq(resumed.stop_reason.stop_reason, "end_turn", "supervisor after the approval")
    results = [m for m in resumed.messages if m.message_type == "tool_return_message"]
    check.eq(len(results), 1, "one broadcast result")
    entries = json.loads(results[0].tool_return)
    check.eq([e["name"] for e in entries], ["wes", "val"], "each worker answered the broadcast")
    check.eq(resumed.messages[-1].message_type, "assistant_message", "the manager answers")


def main(argv: list[str] | None = None) -> int:
    return run_steps("sdk approvals scenario", __doc__ or "", [round_robin, supervisor], argv)


if __name__ == "__main__":
    sys.exit(main())
