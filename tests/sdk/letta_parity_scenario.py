"""Where this service now behaves as Letta 0.11.7, through `letta-client==1.7.0` (strict mode).

    .venv-sdk/bin/python tests/sdk/letta_parity_scenario.py --base-url URL [--api-key K]
        --tool-caller-model openai/tool-caller

The server's OpenAI-compatible fake must play the misbehaving model for that handle (it
always calls a tool: the one tool_choice names, else send_message, else the first offered;
tests/sdk/tool_caller.py). Checks: a supervisor still broadcasts first and answers with
reasoning, broadcast call, one result per worker, reasoning and answer; a memgpt_v2_agent
on that model reasons at every step; dynamic groups refuse duplicate member names (create
and modify) and end at max_turns with end_turn; the core-memory and block-agent read routes,
paged by the SDK; Letta's words when a group's pattern is changed. Exits non-zero on the
first failed check.

Helpers come from the sibling `crud_scenario.py` (this file runs as a script from its own
directory).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from typing import Any

from crud_scenario import Checks, ScenarioFailure, describe
from letta_client import BadRequestError, Letta, NotFoundError
from letta_client.types.agents import LettaResponse

BROADCAST = "send_message_to_all_agents_in_group"
SUPERVISOR_SHAPE = [
    "reasoning_message",
    "tool_call_message",
    "tool_return_message",
    "reasoning_message",
    "assistant_message",
]


def kinds(reply: LettaResponse) -> list[str]:
    return [m.message_type for m in reply.messages]


class ParityScenario:
    def __init__(self, client: Letta, tool_caller: str) -> None:
        self.client = client
        self.model = tool_caller
        self.check = Checks()

    def agent(self, name: str, **kwargs: Any) -> str:
        return self.client.agents.create(name=name, **kwargs).id

    def step_supervisor_broadcasts_first(self) -> None:
        legacy = {"agent_type": "memgpt_v2_agent", "model": self.model}
        boss = self.agent("boss", **legacy)
        workers = [self.agent("wes", **legacy), self.agent("val", **legacy)]
        group = self.client.groups.create(
            agent_ids=workers,
            description="supervised",
            manager_config={"manager_type": "supervisor", "manager_agent_id": boss},
        )
        reply = self.client.groups.messages.create(group.id, input="how long will it take?")
        self.check.eq(kinds(reply), SUPERVISOR_SHAPE, "supervisor reply shape")
        self.check.eq({m.name for m in reply.messages}, {"boss"}, "supervisor reply speakers")
        call = reply.messages[1]
        self.check.eq(call.tool_call.name, BROADCAST, "the first call")
        entries = json.loads(reply.messages[2].tool_return)
        self.check.eq([e["agent_id"] for e in entries], workers, "one result per worker")
        self.check.true(all(e["response"] for e in entries), f"every worker answered: {entries}")
        self.check.eq(reply.stop_reason.stop_reason, "end_turn", "supervisor stop reason")

    def step_legacy_agent_reasons_every_step(self) -> None:
        agent = self.agent(
            "legacy",
            agent_type="memgpt_v2_agent",
            model=self.model,
            tool_rules=[{"type": "run_first", "tool_name": "conversation_search"}],
        )
        reply = self.client.agents.messages.create(agent, input="what did we discuss?")
        self.check.eq(kinds(reply), SUPERVISOR_SHAPE, "legacy agent reply shape")
        steps: dict[str | None, list[str]] = defaultdict(list)
        for message in reply.messages:
            steps[message.step_id].append(message.message_type)
        self.check.eq(reply.usage.step_count, 2, "legacy agent steps")
        self.check.eq(len(steps), 2, "steps in the reply")
        for step, types in steps.items():
            self.check.true("reasoning_message" in types, f"step {step} has no reasoning: {types}")

    def step_dynamic_groups(self) -> None:
        host = self.agent("host")
        ann, other_ann, bob = self.agent("ann"), self.agent("ann"), self.agent("bob")
        dynamic = {"manager_type": "dynamic", "manager_agent_id": host, "max_turns": 2}
        refused = self.check.raises(
            BadRequestError,
            lambda: self.client.groups.create(
                agent_ids=[ann, other_ann, bob], description="twins", manager_config=dynamic
            ),
            "dynamic group with two members named ann",
        )
        self.check.true(
            "Duplicate agent names found" in refused.body["detail"], f"wording: {refused.body}"
        )
        group = self.client.groups.create(
            agent_ids=[ann, bob], description="panel", manager_config=dynamic
        )
        self.check.raises(
            BadRequestError,
            lambda: self.client.groups.update(group.id, agent_ids=[ann, other_ann]),
            "modify a dynamic group to two members named ann",
        )
        reply = self.client.groups.messages.create(group.id, input="discuss")
        self.check.eq(reply.stop_reason.stop_reason, "end_turn", "dynamic stop at max_turns")

    def step_core_memory_reads(self) -> None:
        notes = self.client.blocks.create(label="notes", value="team notes")
        keeper = self.agent(
            "keeper",
            memory_blocks=[
                {"label": "human", "value": "Sam"},
                {"label": "persona", "value": "kind"},
            ],
            block_ids=[notes.id],
        )
        other = self.agent("other", block_ids=[notes.id])
        labels = [b.label for b in self.client.agents.blocks.list(keeper, limit=1)]
        self.check.eq(sorted(labels), ["human", "notes", "persona"], "blocks, paged one by one")
        human = self.client.agents.blocks.retrieve("human", agent_id=keeper)
        self.check.eq(human.value, "Sam", "block by label")
        self.check.raises(
            NotFoundError,
            lambda: self.client.agents.blocks.retrieve("nothing", agent_id=keeper),
            "unknown label",
        )
        holders = [a.id for a in self.client.blocks.agents.list(notes.id, limit=1)]
        self.check.eq(holders, [keeper, other], "agents holding the block, paged one by one")
        changed = self.client.agents.blocks.update("notes", agent_id=keeper, value="new notes")
        self.check.eq((changed.id, changed.value), (notes.id, "new notes"), "modify by label")
        seen = self.client.agents.blocks.retrieve("notes", agent_id=other)
        self.check.eq(seen.value, "new notes", "a shared block changes for its other holder")

    def step_members_hold_the_conversation(self) -> None:
        members = [self.agent(n) for n in ("ann", "bob", "cid")]
        group = self.client.groups.create(agent_ids=members, description="shared histories")
        reply = self.client.groups.messages.create(group.id, input="plan the trip")
        said = [m.content for m in reply.messages if m.message_type == "assistant_message"]
        for member in members:
            held = self.client.agents.messages.list(
                member, group_id=group.id, order="asc", limit=50
            ).items
            texts = [m.content for m in held if m.message_type == "assistant_message"]
            self.check.eq(texts, said, "a member holds the whole exchange")
        self.client.agents.messages.create(members[0], input="what did the others say?")
        history = self.client.agents.messages.list(members[0], order="asc", limit=100).items
        given = [str(m.content) for m in history if m.message_type == "user_message"]
        self.check.true(
            all(any(text in g for g in given) for text in said[1:]),
            f"a direct message comes after what the others said: {given}",
        )
        self.client.groups.messages.reset(group.id)
        for member in members:
            held = self.client.agents.messages.list(member, group_id=group.id).items
            self.check.eq(held, [], "a reset takes the group's messages from every member")

    def step_pattern_change_wording(self) -> None:
        member, manager = self.agent("member"), self.agent("manager")
        group = self.client.groups.create(agent_ids=[member], description="fixed pattern")
        refused = self.check.raises(
            BadRequestError,
            lambda: self.client.groups.update(
                group.id,
                manager_config={"manager_type": "supervisor", "manager_agent_id": manager},
            ),
            "change of pattern",
        )
        self.check.eq(
            refused.body["detail"], "Cannot change group pattern after creation", "wording"
        )

    def execute(self) -> int:
        steps = [getattr(self, n) for n in dir(self) if n.startswith("step_")]
        try:
            for step in steps:
                step()
        except (ScenarioFailure, Exception) as exc:  # noqa: BLE001 - reported as the result
            print(f"FAIL in {step.__name__}: {describe(exc)}")
            print(f"sdk parity scenario: {self.check.passed} passed, 1 failed")
            return 1
        print(f"sdk parity scenario: {self.check.passed} passed, 0 failed")
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key")
    parser.add_argument("--tool-caller-model", required=True)
    args = parser.parse_args()
    client = Letta(base_url=args.base_url, api_key=args.api_key, _strict_response_validation=True)
    return ParityScenario(client, args.tool_caller_model).execute()


if __name__ == "__main__":
    sys.exit(main())
