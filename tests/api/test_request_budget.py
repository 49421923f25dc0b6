"""The DynamoDB requests one send makes, per pattern: a budget each, so a change that adds
requests fails here (they are the latency and the bill; see docs/benchmarks.md)."""

from __future__ import annotations

from typing import Any

import pytest

from handler.composition import Services
from infra.launchers import InProcessLauncher
from tests.conftest import Api

BUDGET = {
    # group, speakers, their blocks, lease + input; then per turn the transcript (first
    # turn only), the context and one write holding the step, its transcript entries and
    # the cursor (the last one also frees the group): 4 + 1 + 2 per turn.
    "round_robin-3": 11,
    # the manager's two steps, three workers in parallel, their publishes, the release
    "supervisor-3": 22,
    # three turns, each after the manager's choice (an ask of its own)
    "dynamic-3": 18,
    # the main agent's turn, the counter, the review's start, and the background run
    "sleeptime": 27,
}
"""At most this many DynamoDB requests per send, every agent holding a memory block
(measured; lower them when a change saves requests)."""


def _group(api: Api, pattern: str) -> str:
    memory = [{"label": "human", "value": "likes tea"}]
    members = [api.agent(f"{pattern}-{n}", memory_blocks=memory)["id"] for n in range(3)]
    if pattern == "round_robin-3":
        return str(api.group(members)["id"])
    manager = api.agent(f"{pattern}-manager", memory_blocks=memory)["id"]
    manager_type = pattern.split("-")[0]
    config: dict[str, Any] = {"manager_type": manager_type, "manager_agent_id": manager}
    if manager_type == "sleeptime":
        members = members[:1]
    return str(api.group(members, manager_config=config)["id"])


def _count(api: Api, services: Services, group_id: str) -> int:
    client = services.agents._store._client  # noqa: SLF001 - count this store's requests
    seen: list[str] = []

    def count(event_name: str, **_: object) -> None:
        seen.append(event_name.rsplit(".", 1)[-1])

    api.ok("POST", f"/v1/groups/{group_id}/messages", json={"input": "warm up"})
    launcher = services.runs.launcher
    assert not isinstance(launcher, InProcessLauncher) or launcher.wait_idle(30)
    client.meta.events.register("before-call.dynamodb", count)
    try:
        api.ok("POST", f"/v1/groups/{group_id}/messages", json={"input": "hello"})
        launcher = services.runs.launcher  # background runs it started count too
        assert not isinstance(launcher, InProcessLauncher) or launcher.wait_idle(30)
    finally:
        client.meta.events.unregister("before-call.dynamodb", count)
    return len(seen)


@pytest.mark.parametrize("pattern", sorted(BUDGET))
def test_a_send_stays_within_its_request_budget(api: Api, services: Services, pattern: str) -> None:
    used = _count(api, services, _group(api, pattern))
    assert used <= BUDGET[pattern], f"{pattern}: {used} requests, budget {BUDGET[pattern]}"
