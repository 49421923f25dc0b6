"""Sleeptime and voice agents through the official `letta-client==1.7.0` SDK in strict mode.

    .venv-sdk/bin/python tests/sdk/sleeptime_scenario.py --base-url URL [--api-key K]

An agent created with `enable_sleeptime` gets Letta's sleeptime agent (tools, rules) and
group; `agents.messages.create`, `.stream` and `.create_async` on it start the sleeptime runs
at the group's frequency (`usage.run_ids`); overlapping runs all complete; blocks attached
and detached later follow it; a `voice_convo_agent` gets Letta's voice group, agent, tools
and buffer defaults, and one-sided buffer updates keep the other bound. Best with a slow
model (the test serves it with OFFLINE_MODEL_LATENCY_MS), so runs overlap. Exits non-zero
on failure.
"""

from __future__ import annotations

import sys

from crud_scenario import Checks, run_steps, wait_finished
from letta_client import Letta


def block_ids(client: Letta, agent_id: str) -> set[str]:
    return {b.id for b in client.agents.retrieve(agent_id).memory.blocks}


def sleeptime(client: Letta, check: Checks) -> None:
    main = client.agents.create(
        name="ella",
        enable_sleeptime=True,
        memory_blocks=[{"label": "human", "value": "Name: Sam", "limit": 5000}],
    )
    group = main.multi_agent_group
    check.true(group is not None and group.manager_type == "sleeptime", group)
    check.true(group.sleeptime_agent_frequency == 5, group)
    [sleeper_id] = group.agent_ids
    sleeper = client.agents.retrieve(sleeper_id)
    check.true(sleeper.agent_type == "sleeptime_agent", sleeper.agent_type)
    tools = sorted(t.name for t in sleeper.tools)
    check.true(
        tools == ["memory_finish_edits", "memory_insert", "memory_replace", "memory_rethink"],
        tools,
    )
    rules = {(r.type, r.tool_name) for r in sleeper.tool_rules or []}
    check.true(("exit_loop", "memory_finish_edits") in rules, rules)
    check.true(("continue_loop", "memory_insert") in rules, rules)
    print("ok   enable_sleeptime: Letta's sleeptime agent, tools, rules and frequency")

    client.groups.update(
        group.id, manager_config={"manager_type": "sleeptime", "sleeptime_agent_frequency": 2}
    )
    counts = []
    for n in range(1, 4):
        reply = client.agents.messages.create(main.id, input=f"Fact number {n}")
        check.true(reply.stop_reason.stop_reason == "end_turn", reply.stop_reason)
        counts.append(len(reply.usage.run_ids or []))
        for run_id in reply.usage.run_ids or []:
            run = wait_finished(client, run_id)
            check.true((run.status, run.agent_id) == ("completed", sleeper_id), run)
    check.true(counts == [1, 0, 1], counts)
    human = next(b for b in main.memory.blocks if b.label == "human")
    value = client.blocks.retrieve(human.id).value
    check.true("Fact number 1" in value and "Fact number 3" in value, value)
    print("ok   agents.messages.create starts runs at the group's frequency")

    client.groups.update(
        group.id, manager_config={"manager_type": "sleeptime", "sleeptime_agent_frequency": 1}
    )
    chunks = list(client.agents.messages.stream(main.id, input="I like figs"))
    usage = [c for c in chunks if c.message_type == "usage_statistics"]
    check.true(len(usage) == 1 and len(usage[0].run_ids or []) == 1, usage)
    started = client.agents.messages.create_async(main.id, input="I like plums")
    check.true(wait_finished(client, started.id).status == "completed", started)
    print("ok   agents.messages.stream and create_async start runs too")

    # A slow model: each send returns while the run it started still works.
    overlapping = []
    for n in range(3):
        reply = client.agents.messages.create(main.id, input=f"Overlap {n}")
        overlapping.extend(reply.usage.run_ids or [])
    check.true(len(overlapping) == 3, overlapping)
    finished = [wait_finished(client, run_id) for run_id in overlapping]
    check.true([r.status for r in finished] == ["completed"] * 3, finished)
    print("ok   three overlapping runs of the sleeptime agent all complete")

    extra = client.blocks.create(label="preferences", value="tea over coffee")
    client.agents.blocks.attach(extra.id, agent_id=main.id)
    check.true(extra.id in block_ids(client, sleeper_id), "attach did not reach the sleeper")
    client.agents.blocks.detach(extra.id, agent_id=main.id)
    check.true(extra.id not in block_ids(client, sleeper_id), "detach did not reach it")
    check.true(extra.id not in block_ids(client, main.id), "detach left it on the main agent")
    print("ok   blocks attached and detached later follow the main agent")

    client.agents.delete(main.id)
    runs_of_sleeper = list(client.runs.list(agent_id=sleeper_id))
    check.true(all(r.status == "completed" for r in runs_of_sleeper), runs_of_sleeper)


def voice(client: Letta, check: Checks) -> None:
    main = client.agents.create(
        name="vera",
        agent_type="voice_convo_agent",
        enable_sleeptime=True,
        memory_blocks=[{"label": "human", "value": "Name: Sam"}],
    )
    check.true(sorted(t.name for t in main.tools) == ["search_memory", "send_message"], main.tools)
    group = main.multi_agent_group
    check.true(group is not None and group.manager_type == "voice_sleeptime", group)
    bounds = (group.max_message_buffer_length, group.min_message_buffer_length)
    check.true(bounds == (30, 15), bounds)
    [sleeper_id] = group.agent_ids
    sleeper = client.agents.retrieve(sleeper_id)
    check.true(sleeper.agent_type == "voice_sleeptime_agent", sleeper.agent_type)
    tools = sorted(t.name for t in sleeper.tools)
    check.true(
        tools == ["finish_rethinking_memory", "rethink_user_memory", "store_memories"], tools
    )
    print("ok   voice_convo_agent: Letta's voice group, agent, tools and buffer defaults")

    lower = client.groups.update(
        group.id,
        manager_config={"manager_type": "voice_sleeptime", "min_message_buffer_length": 5},
    )
    check.true((lower.max_message_buffer_length, lower.min_message_buffer_length) == (30, 5), lower)
    upper = client.groups.update(
        group.id,
        manager_config={"manager_type": "voice_sleeptime", "max_message_buffer_length": 6},
    )
    check.true((upper.max_message_buffer_length, upper.min_message_buffer_length) == (6, 5), upper)
    print("ok   one-sided buffer updates keep the other bound")

    run_ids = []
    for n in range(3):
        reply = client.agents.messages.create(main.id, input=f"Note {n}: bring snacks")
        run_ids.extend(reply.usage.run_ids or [])
    check.true(len(run_ids) == 1, run_ids)
    run = wait_finished(client, run_ids[0])
    check.true((run.status, run.agent_id) == ("completed", sleeper_id), run)
    print("ok   the voice agent hands what leaves its context to its sleeptime agent")


def main(argv: list[str] | None = None) -> int:
    steps = [
        lambda client, check, _: sleeptime(client, check),
        lambda client, check, _: voice(client, check),
    ]
    return run_steps("sdk sleeptime scenario", __doc__ or "", steps, argv)


if __name__ == "__main__":
    sys.exit(main())
