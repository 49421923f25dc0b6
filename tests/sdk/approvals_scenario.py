"""Approvals in groups through the official `letta-client==1.7.0` SDK in strict mode.

    .venv-sdk/bin/python tests/sdk/approvals_scenario.py --base-url URL [--api-key K]

On the server's offline model (it stores what it is asked to remember): an agent whose
`memory_insert` needs approval pauses its round_robin group; the approval (sent through
`groups.messages.create`) lets the agent finish and the later members speak. A supervisor
whose manager needs approval finishes its turn after the approval, its workers not asked
again. Exits non-zero with the failed check.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

from crud_scenario import Checks, describe
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
    boss = client.agents.create(name="boss", memory_blocks=MEMORY, tool_rules=CAREFUL)
    wes = client.agents.create(name="wes")
    val = client.agents.create(name="val")
    created += [("agent", a.id) for a in (boss, wes, val)]
    group = client.groups.create(
        agent_ids=[wes.id, val.id],
        description="careful boss",
        manager_config={"manager_type": "supervisor", "manager_agent_id": boss.id},
    )
    created.append(("group", group.id))

    paused = client.groups.messages.create(group.id, input="remember: the deadline is friday")
    check.eq(paused.stop_reason.stop_reason, "requires_approval", "the manager pauses")
    resumed = approve(client, group.id, paused)
    check.eq(resumed.stop_reason.stop_reason, "end_turn", "supervisor after the approval")
    check.eq(resumed.messages[-1].message_type, "assistant_message", "the manager answers")
    check.eq(
        {m.name for m in resumed.messages if m.message_type == "assistant_message"},
        {"boss"},
        "only the manager speaks after the approval (its workers answered already)",
    )
    transcript = client.groups.messages.list(group.id, order="asc", limit=50).items
    worker_replies = [
        m.name for m in transcript if m.message_type == "assistant_message" and m.name != "boss"
    ]
    check.eq(sorted(worker_replies), ["val", "wes"], "each worker answered once")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8283")
    parser.add_argument("--api-key", default=None, help="bearer key, when the server wants one")
    args = parser.parse_args(argv)
    client = Letta(
        base_url=args.base_url.rstrip("/"),
        api_key=args.api_key,
        max_retries=0,
        timeout=120.0,
        _strict_response_validation=True,
    )
    check = Checks()
    created: list[tuple[str, str]] = []
    failed = False
    try:
        round_robin(client, check, created)
        supervisor(client, check, created)
    except Exception as exc:  # every failure is reported, then exit 1
        failed = True
        print(f"FAIL: {describe(exc)}", flush=True)
    for kind, resource_id in reversed(created):
        with contextlib.suppress(Exception):
            (client.groups if kind == "group" else client.agents).delete(resource_id)
    print(f"sdk approvals scenario: {check.passed} passed, {int(failed)} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
