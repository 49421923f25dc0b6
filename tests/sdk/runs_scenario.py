"""Async sends and runs through the official `letta-client==1.7.0` SDK in strict mode.

    .venv-sdk/bin/python tests/sdk/runs_scenario.py --base-url URL [--api-key K]

`agents.messages.create_async` answers with a Run; `runs.retrieve`, `runs.list`,
`runs.messages.list`, `runs.messages.stream` (from the start and from the middle),
`runs.usage.retrieve` and `runs.steps.list` read it; `agents.messages.cancel` answers per
run. Exits non-zero on failure.
"""

from __future__ import annotations

import sys

from crud_scenario import Checks, run_steps, wait_finished
from letta_client import Letta


def run(client: Letta, check: Checks) -> None:
    twin_a = client.agents.create(name="twin")
    twin_b = client.agents.create(name="twin")
    sync = client.agents.messages.create(twin_a.id, input="hello there")

    started = client.agents.messages.create_async(twin_b.id, input="hello there")
    check.true(started.id.startswith("run-") and started.agent_id == twin_b.id, started)
    done = wait_finished(client, started.id)
    check.true((done.status, done.stop_reason) == ("completed", "end_turn"), done)
    print("ok   create_async and runs.retrieve")

    listed = list(client.runs.messages.list(started.id))
    check.true(listed[0].message_type == "user_message", listed[0])
    said = [(m.message_type, getattr(m, "content", None)) for m in listed[1:]]
    expected = [(m.message_type, getattr(m, "content", None)) for m in sync.messages]
    check.true(said == expected, (said, expected))
    print("ok   runs.messages.list equals the synchronous send")

    mine = list(client.runs.list(agent_id=twin_b.id))
    check.true([r.id for r in mine] == [started.id], mine)
    usage = client.runs.usage.retrieve(started.id)
    check.true(usage.total_tokens == sync.usage.total_tokens, (usage, sync.usage))
    print("ok   runs.list and runs.usage.retrieve")

    steps = list(client.runs.steps.list(started.id, order="asc"))
    check.true(len(steps) == sync.usage.step_count, (steps, sync.usage))
    check.true(
        all(step.agent_id == twin_b.id and step.job_id == started.id for step in steps), steps
    )
    tokens = sum((step.prompt_tokens or 0) + (step.completion_tokens or 0) for step in steps)
    check.true(tokens == usage.total_tokens, (steps, usage))
    check.true(steps[-1].stop_reason == "end_turn" and steps[-1].status == "success", steps[-1])
    made = [message.role for step in steps for message in step.messages or []]
    check.true("assistant" in made, made)
    print("ok   runs.steps.list")

    chunks = list(client.runs.messages.stream(started.id))
    kinds = [c.message_type for c in chunks]
    check.true(kinds[-2:] == ["stop_reason", "usage_statistics"], kinds)
    first = chunks[0]
    rest = list(client.runs.messages.stream(started.id, starting_after=first.seq_id))
    check.true(
        [c.message_type for c in rest] == [c.message_type for c in chunks if c not in [first]],
        (rest, chunks),
    )
    print("ok   runs.messages.stream, whole and from the middle")

    cancelled = client.agents.messages.cancel(twin_b.id, run_ids=[started.id])
    check.true(dict(cancelled) == {started.id: "completed"}, cancelled)
    print("ok   agents.messages.cancel")


def main(argv: list[str] | None = None) -> int:
    steps = [
        lambda client, check, _: run(client, check),
    ]
    return run_steps("sdk runs scenario", __doc__ or "", steps, argv)


if __name__ == "__main__":
    sys.exit(main())
