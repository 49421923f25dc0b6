"""A client timeout shorter than the send, through `letta-client==1.7.0` at default settings.

    .venv-sdk/bin/python tests/sdk/retry_timeout_scenario.py --base-url URL [--api-key K]

Meant for a server whose offline model is slow (`OFFLINE_MODEL_LATENCY_MS`), so a send
outlasts the client's timeout: the SDK then retries on its own (no idempotency key, no otid,
`x-stainless-retry-count` 1, 2...). Each retry must join the first attempt: the user's
message is processed once, and the client receives the send's response. Exits non-zero with
the failed check.
"""

from __future__ import annotations

import argparse
import sys

from crud_scenario import Checks, run_steps
from letta_client import Letta

REPLY = ["reasoning_message", "assistant_message"]


def run(client: Letta, check: Checks, created: list[tuple[str, str]]) -> None:
    members = []
    for n in range(2):
        agent = client.agents.create(name=f"patient-{n}")
        created.append(("agent", agent.id))
        members.append(agent.id)
    group = client.groups.create(agent_ids=members, description="slower than the client")
    created.append(("group", group.id))

    answer = client.groups.messages.create(group.id, input="one message, once")
    check.eq([m.message_type for m in answer.messages], REPLY * 2, "the send's response")
    check.eq(answer.usage.step_count, 2, "usage.step_count")
    listed = client.groups.messages.list(group.id, order="asc", limit=50)
    check.eq(
        [m.message_type for m in listed.items],
        ["user_message", *REPLY * 2],
        "the transcript holds the message once, answered once",
    )

    solo = members[0]
    hasty = client.with_options(timeout=client.timeout / 2)  # one model call outlasts it
    reply = hasty.agents.messages.create(solo, input="and once here")
    check.eq([m.message_type for m in reply.messages], REPLY, "the agent send's response")
    history = client.agents.messages.list(solo, limit=100).items
    asked = [
        m for m in history if m.message_type == "user_message" and "and once here" in str(m.content)
    ]
    check.eq(len(asked), 1, "the direct message is in the agent's history once")
    replies = [m for m in history if m.message_type == "assistant_message"]
    check.eq(len(replies), 2, "one reply in the group, one to the direct message")


def main(argv: list[str] | None = None) -> int:
    def timeout(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--timeout", type=float, default=1.0, help="client timeout, s")

    # Default settings but the timeout: max_retries stays the SDK's own (2).
    return run_steps(
        "sdk retry timeout scenario",
        __doc__ or "",
        [run],
        argv,
        client_options=lambda args: {"timeout": args.timeout},
        arguments=timeout,
    )


if __name__ == "__main__":
    sys.exit(main())
