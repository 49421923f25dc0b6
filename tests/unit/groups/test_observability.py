"""What a group send tells the Metrics port, and the ids its parallel workers log with."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from core.errors import ConflictError
from core.llm import ChatRequest, ChatResponse
from core.observability import bind, fields
from core.ports import Put
from tests.unit.groups.conftest import TENANT, Groups, call, reply


def test_a_round_robin_send_counts_its_turns_stop_reasons_and_tokens(env: Groups) -> None:
    ann, bob = env.agent("ann"), env.agent("bob")
    group = env.group([ann, bob])
    env.model.script("ann", reply("hi from ann", tokens=11))
    env.model.script("bob", reply("hi from bob", tokens=13))

    env.send(group)

    metrics = env.metrics
    assert [(v, d) for v, d, _ in metrics.named("Turns")] == [(1, {"manager": "round_robin"})] * 2
    assert [d for _, d, _ in metrics.named("StopReasons")] == [{"reason": "end_turn"}] * 2
    prompt = metrics.named("PromptTokens")
    assert [(v, p) for v, _, p in prompt] == [(11, {"agent_id": ann}), (13, {"agent_id": bob})]
    assert all(d == {} for _, d, _ in prompt)  # the agent is a property, not a dimension
    assert [v for v, _, _ in metrics.named("CompletionTokens")] == [2, 2]
    latencies = metrics.named("ModelLatency")
    assert [d for _, d, _ in latencies] == [{"provider": "offline", "outcome": "ok"}] * 2


def test_a_send_refused_while_the_group_is_busy_counts_a_lease_conflict(env: Groups) -> None:
    group = env.group([env.agent("ann")])
    record = env.group_record(group)
    far = datetime(2100, 1, 1, tzinfo=UTC)
    busy = record.model_copy(update={"lease_id": "lease-other", "lease_expires_at": far})
    env.store.write(TENANT, [Put(busy, expected_version=record.version)])

    with pytest.raises(ConflictError, match="busy"):
        env.send(group)

    assert [d for _, d, _ in env.metrics.named("LeaseConflicts")] == [{"manager": "round_robin"}]


def test_parallel_workers_run_in_a_copy_of_the_senders_context(env: Groups) -> None:
    boss = env.agent("boss")
    workers = [env.agent("wes"), env.agent("val")]
    group = env.group(workers, manager_type="supervisor", manager_agent_id=boss)
    seen: dict[str, dict[str, str]] = {}

    def worker(name: str):  # noqa: ANN202 - a script step
        def step(request: ChatRequest) -> ChatResponse:
            seen[name] = fields()
            return reply(f"{name} done")

        return step

    env.model.script("wes", worker("wes"))
    env.model.script("val", worker("val"))
    env.model.script(
        "boss",
        call("send_message_to_all_agents_in_group", json.dumps({"message": "go"})),
        reply("done"),
    )

    with bind(correlation_id="req-1"):
        env.send(group)

    for name, agent_id in zip(("wes", "val"), workers, strict=True):
        assert seen[name] == {
            "correlation_id": "req-1",
            "tenant": TENANT,
            "group_id": group,
            "agent_id": agent_id,
        }
