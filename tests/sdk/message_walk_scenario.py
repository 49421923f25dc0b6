"""Message listings walked by the official `letta-client==1.7.0` SDK's own auto-pagination
(strict mode), as SPEC §5 promises: never more than `limit` messages a page, and every
message exactly once, at `limit` 1, 2, 3 and 7, in both orders.

    .venv-sdk/bin/python tests/sdk/message_walk_scenario.py --base-url URL [--api-key K]

Walks a 40-message group transcript (8 sends to a pair: the input, then reasoning and reply
from each), an agent's history and an async run's messages (both with memory tool calls,
so one step renders as reasoning, tool call and more), forwards (`after` = the last id) and
backwards (`before` = the first id, as the SDK does when the first call names `before`).
Exits non-zero on failure.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from crud_scenario import Checks, run_steps, wait_finished
from letta_client import Letta
from letta_client.types.agents import Message
from pydantic import TypeAdapter

MESSAGES = TypeAdapter(list[Message])
LIMITS = (1, 2, 3, 7)
MAX_PAGES = 500  # more pages than this is taken as a pagination loop

Key = tuple[str, str]


def walk(check: Checks, list_call: Callable[..., Any], what: str, **params: Any) -> list[Key]:
    """(id, message_type) of every message the SDK's pages yield, page by page."""
    page = list_call(**params)
    seen: list[Key] = []
    for number in range(1, MAX_PAGES + 1):
        items = page.items
        check.true(
            len(items) <= params["limit"],
            f"{what}: page {number} holds {len(items)} messages > limit {params['limit']}",
        )
        keys = [(m.id, m.message_type) for m in items]
        # Walking backwards, each page comes before the pages already seen.
        seen = keys + seen if "before" in params else seen + keys
        if not page.has_next_page():
            return seen
        page = page.get_next_page()
    raise AssertionError(f"{what}: pagination did not end within {MAX_PAGES} pages")


def everything(client: Letta, path: str) -> list[Key]:
    """The whole listing in one strict page, oldest first."""
    raw = client.get(path, cast_to=object, options={"params": {"limit": 1000, "order": "asc"}})
    return [(m.id, m.message_type) for m in MESSAGES.validate_python(raw)]


def check_walks(
    client: Letta, check: Checks, path: str, list_call: Callable[..., Any], what: str
) -> None:
    asc = everything(client, path)
    check.true(len(set(asc)) == len(asc), f"{what}: a message is listed twice")
    check.true(len({i for i, _ in asc}) == len(asc), f"{what}: two messages share an id")
    for limit in LIMITS:
        for order, expected in (("asc", asc), ("desc", asc[::-1])):
            name = f"{what} limit={limit} {order}"
            walked = walk(check, list_call, name, limit=limit, order=order)
            check.true(walked == expected, f"{name}: walked {walked} != listed {expected}")
            back = walk(check, list_call, name, limit=limit, order=order, before=expected[-1][0])
            check.true(back == expected[:-1], f"{name} backwards: {back} != {expected[:-1]}")
    print(f"ok   {what}: {len(asc)} messages at limits {LIMITS}, both orders and directions")


def run(client: Letta, check: Checks) -> None:
    pair = [client.agents.create(name=name).id for name in ("ann", "bob")]
    group = client.groups.create(agent_ids=pair, description="a pair to walk")
    for n in range(8):
        client.groups.messages.create(group.id, input=f"point {n}")
    path = f"/v1/groups/{group.id}/messages"
    check.true(len(everything(client, path)) == 40, "the transcript holds 40 messages")
    listed = client.groups.messages.list
    check_walks(client, check, path, lambda **p: listed(group.id, **p), "group transcript")

    human = [{"label": "human", "value": "Sam"}]
    agent = client.agents.create(name="cy", memory_blocks=human)
    for text in ("Please remember that I like tea.", "hello", "Remember my cat is Tom."):
        client.agents.messages.create(agent.id, input=text)
    listed_own = client.agents.messages.list
    check_walks(
        client,
        check,
        f"/v1/agents/{agent.id}/messages",
        lambda **p: listed_own(agent.id, **p),
        "agent messages",
    )

    other = client.agents.create(name="dee", memory_blocks=human)
    started = client.agents.messages.create_async(other.id, input="Remember the launch is Friday.")
    wait_finished(client, started.id)
    listed_run = client.runs.messages.list
    check_walks(
        client,
        check,
        f"/v1/runs/{started.id}/messages",
        lambda **p: listed_run(started.id, **p),
        "run messages",
    )


def main(argv: list[str] | None = None) -> int:
    steps = [
        lambda client, check, _: run(client, check),
    ]
    return run_steps("sdk message walk scenario", __doc__ or "", steps, argv)


if __name__ == "__main__":
    sys.exit(main())
