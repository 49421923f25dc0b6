"""A Run whose worker died is retried from its last committed turn, not from scratch
(RunService: a redelivery of a run still `running` past STALE_AFTER resumes a group send;
core.groups.journal replays what it had committed)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.services.runs import MAX_ATTEMPTS, STALE_AFTER
from handler.app import create_app
from handler.composition import Services, build_services
from infra.launchers import InProcessLauncher
from infra.providers.router import ModelRouter
from infra.settings import Settings
from tests.fakes import FakeClock, Killed, MortalStore, ScriptedModel
from tests.normalize import normalized

TENANT = "default"


class World:
    """The app on an in-memory store whose worker can die, with a clock the test moves."""

    def __init__(self, *script: Any) -> None:
        self.store, self.clock = MortalStore(), FakeClock()
        settings = Settings(table_name="unused", aws_region="us-east-1")
        self.offline = ModelRouter(settings)
        self.model = ScriptedModel(*script)
        self.services: Services = build_services(settings, self.store, self.clock, self.model)
        self.client = TestClient(create_app(self.services))

    def answer(self, request: Any) -> Any:
        return self.offline.complete(request)

    def die(self, request: Any) -> Any:
        self.store.dead = True
        raise Killed()

    def group(self) -> str:
        agents = [
            self.client.post("/v1/agents/", json={"name": n}).json()["id"]
            for n in ("ann", "bob", "cid")
        ]
        body = {"agent_ids": agents, "description": "trio"}
        return str(self.client.post("/v1/groups/", json=body).json()["id"])

    def idle(self) -> None:
        launcher = self.services.runs.launcher
        assert isinstance(launcher, InProcessLauncher)
        assert launcher.wait_idle(10)

    def later(self, by: timedelta) -> None:
        """A new worker, `by` after the dead one started."""
        self.store.dead = False
        self.clock._now += by

    def run_messages(self, run_id: str) -> Any:
        page = self.client.get(f"/v1/runs/{run_id}/messages", params={"limit": 100})
        assert page.status_code == 200, page.text
        return comparable(page.json())


def comparable(messages: list[dict[str, Any]]) -> Any:
    """What a run shows against what a synchronous send answers: all but where each is
    numbered and which run it was (a synchronous send has none)."""
    return normalized(
        [{k: v for k, v in m.items() if k not in ("seq_id", "run_id")} for m in messages]
    )


SEND = {"messages": [{"role": "user", "content": "plan the trip"}]}


@pytest.fixture
def dying() -> Iterator[World]:
    world = World()
    world.model.queue(world.answer, world.die, world.answer, world.answer)
    yield world
    world.store.dead = False
    world.idle()


def test_a_redelivered_run_resumes_from_its_last_committed_turn(dying: World) -> None:
    calm = World()
    calm.model.queue(calm.answer, calm.answer, calm.answer)
    expected = calm.client.post(f"/v1/groups/{calm.group()}/messages", json=SEND).json()

    group = dying.group()
    run = dying.client.post(f"/v1/groups/{group}/messages/async", json=SEND).json()
    dying.idle()
    assert dying.client.get(f"/v1/runs/{run['id']}").json()["status"] == "running"

    dying.later(timedelta(minutes=1))  # a duplicate delivery while it may still work
    assert dying.services.runs.attempt(TENANT, run["id"]) == "skipped"
    dying.later(STALE_AFTER)  # SQS redelivers once the visibility timeout has passed
    assert dying.services.runs.attempt(TENANT, run["id"]) == "finished"

    done = dying.client.get(f"/v1/runs/{run['id']}").json()
    assert (done["status"], done["stop_reason"]) == ("completed", "end_turn")
    assert len(dying.model.requests) == 4  # ann once, bob's dead call and his redo, cid
    assert dying.run_messages(run["id"]) == comparable(expected["messages"])
    listed = dying.client.get(
        f"/v1/groups/{group}/messages", params={"limit": 100, "order": "asc"}
    ).json()
    assert [m["message_type"] for m in listed] == [
        "user_message",
        *["reasoning_message", "assistant_message"] * 3,
    ]


def test_a_run_that_cannot_resume_ends_failed_instead_of_running_forever() -> None:
    world = World()
    world.model.queue(world.die)
    agent = world.client.post("/v1/agents/", json={"name": "solo"}).json()["id"]
    run = world.client.post(f"/v1/agents/{agent}/messages/async", json=SEND).json()
    world.idle()
    world.later(STALE_AFTER + timedelta(seconds=1))

    assert world.services.runs.attempt(TENANT, run["id"]) == "skipped"

    ended = world.client.get(f"/v1/runs/{run['id']}").json()
    assert (ended["status"], ended["stop_reason"]) == ("failed", "error")


def test_a_group_run_resumed_too_often_ends_failed() -> None:
    world = World()
    world.model.queue(*[world.die] * MAX_ATTEMPTS)
    group = world.group()
    run = world.client.post(f"/v1/groups/{group}/messages/async", json=SEND).json()
    world.idle()
    for _ in range(MAX_ATTEMPTS - 1):
        world.later(STALE_AFTER + timedelta(seconds=1))
        with pytest.raises(Killed):
            world.services.runs.attempt(TENANT, run["id"])
    world.later(STALE_AFTER + timedelta(seconds=1))
    assert world.services.runs.attempt(TENANT, run["id"]) == "skipped"
    assert world.client.get(f"/v1/runs/{run['id']}").json()["status"] == "failed"
    world.store.dead = False
    world.clock._now += timedelta(minutes=5)  # the group is free again once its lease ran out
    world.model.queue(world.answer, world.answer, world.answer)
    assert world.client.post(f"/v1/groups/{group}/messages", json=SEND).status_code == 200
