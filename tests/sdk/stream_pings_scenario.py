"""Streams with keep-alive pings through the official `letta-client==1.7.0` SDK in strict mode.

    .venv-sdk/bin/python tests/sdk/stream_pings_scenario.py --base-url URL [--api-key K]

Meant for a server whose offline model is slow and whose pings are frequent
(`OFFLINE_MODEL_LATENCY_MS`, `SSE_PING_S`), so `: ping` comments fall between the frames of a
group stream: the SDK's `stream` must still yield every message, the stop reason and the usage,
and the raw body must hold the pings and nothing but `data:` frames besides. Exits non-zero with
the failed check.
"""

from __future__ import annotations

import sys

from crud_scenario import Checks, run_steps
from letta_client import Letta

REPLY = ["reasoning_message", "assistant_message"]


def run(client: Letta, check: Checks, created: list[tuple[str, str]]) -> None:
    members = []
    for n in range(2):
        agent = client.agents.create(name=f"pinged-{n}")
        created.append(("agent", agent.id))
        members.append(agent.id)
    group = client.groups.create(agent_ids=members, description="pings between frames")
    created.append(("group", group.id))

    events = list(client.groups.messages.stream(group.id, input="take your time"))
    check.eq(
        [e.message_type for e in events],
        [*REPLY, *REPLY, "stop_reason", "usage_statistics"],
        "SDK stream events with pings between them",
    )
    check.eq([e.name for e in events[:4]], ["pinged-0"] * 2 + ["pinged-1"] * 2, "speakers")
    check.eq(events[-2].stop_reason, "end_turn", "stop_reason")
    check.eq(events[-1].step_count, 2, "usage.step_count")

    with client.groups.messages.with_streaming_response.stream(
        group.id, input="and the raw frames"
    ) as response:
        lines = [line for line in response.iter_lines() if line]
    check.true(": ping" in lines, f"no `: ping` comment in the raw stream: {lines}")
    others = [line for line in lines if line != ": ping" and not line.startswith("data: ")]
    check.eq(others, [], "raw lines other than pings and data frames")
    check.eq(lines[-1], "data: [DONE]", "last raw line")


def main(argv: list[str] | None = None) -> int:
    return run_steps("sdk stream pings scenario", __doc__ or "", [run], argv)


if __name__ == "__main__":
    sys.exit(main())
