"""Runs on in-memory fakes: lifecycle, handlers, failures, the run's messages, launchers."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

from core.errors import NotFoundError
from core.llm import ChatResponse, ModelServerError, Reasoning, Usage
from core.paging import PageRequest
from core.records import MessageRecord, RunRecord
from core.runtime.agent_loop import AgentLoop, TurnOptions, TurnResult
from core.runtime.rendering import RenderOptions
from core.schemas.agents import CreateAgentRequest
from core.schemas.messages import LettaRequest
from core.services.agent_messages import AgentMessageService
from core.services.agents import AgentService
from core.services.runs import AGENT_TURN, RunService
from infra.launchers import InProcessLauncher, SynchronousLauncher
from tests.fakes import FakeClock, InMemoryStore, ScriptedModel

TENANT = "tenant-runs"


def say(text: str, reasoning: str | None = None) -> ChatResponse:
    return ChatResponse(
        text=text,
        reasoning=Reasoning(text=reasoning) if reasoning else None,
        usage=Usage(prompt_tokens=10, completion_tokens=2),
    )


@dataclass
class Env:
    store: InMemoryStore
    model: ScriptedModel
    loop: AgentLoop
    runs: RunService
    launcher: SynchronousLauncher | InProcessLauncher
    agents: AgentService
    messages: AgentMessageService
    seen_statuses: list[str] = field(default_factory=list)

    def agent(self, name: str = "sleeper") -> str:
        return self.agents.create(TENANT, CreateAgentRequest(name=name)).id

    def record(self, run_id: str) -> RunRecord:
        return self.runs.get_record(TENANT, run_id)

    def listed(self, run_id: str, **page: Any) -> list[Any]:
        page.setdefault("limit", 100)
        return self.runs.list_messages(TENANT, run_id, PageRequest(**page), RenderOptions())

    def turn(self, agent_id: str, text: str, run_id: str | None) -> TurnResult:
        user = MessageRecord(
            id=f"message-{_uuid()}",
            created_at=FakeClock().now(),
            parent_id=agent_id,
            seq=0,
            role="user",
            text=text,
            run_id=run_id,
        )
        return self.loop.run(TENANT, agent_id, [user], TurnOptions(run_id=run_id))


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def make_env(launcher: SynchronousLauncher | InProcessLauncher) -> Env:
    store, clock, model = InMemoryStore(), FakeClock(), ScriptedModel()
    loop = AgentLoop(store, clock, model)
    runs = RunService(store, clock, loop, launcher)
    launcher.bind(runs.execute)
    return Env(
        store,
        model,
        loop,
        runs,
        launcher,
        AgentService(store, clock, "offline/default"),
        AgentMessageService(store, clock, loop),
    )


@pytest.fixture
def env() -> Env:
    return make_env(SynchronousLauncher())


# -- lifecycle ------------------------------------------------------------------------------


def test_run_goes_created_running_completed_with_its_end_recorded(env: Env) -> None:
    agent_id = env.agent()
    env.model.queue(say("Noted.", reasoning="Nothing new to store."))

    def watching(tenant: str, run: RunRecord) -> TurnResult:
        env.seen_statuses.append(env.record(run.id).status)
        return env.turn(run.agent_id, "transcript so far", run.id)

    env.runs.register("watch", watching)
    run = env.runs.create(TENANT, agent_id, {"kind": "watch"}, {"group_id": "g"})
    assert run.status == "created"
    assert env.runs.get(TENANT, run.id).status == "created"
    assert env.runs.get(TENANT, run.id).completed_at is None

    env.runs.start(TENANT, run)

    assert env.launcher.launched == [(TENANT, run.id)]  # type: ignore[union-attr]
    assert env.seen_statuses == ["running"]
    wire = env.runs.get(TENANT, run.id)
    assert wire.status == "completed"
    assert wire.stop_reason == "end_turn"
    assert wire.completed_at is not None and wire.completed_at >= wire.created_at
    assert wire.agent_id == agent_id and wire.background is True
    assert wire.metadata == {"group_id": "g"}
    stored = env.record(run.id)
    assert (stored.first_seq, stored.last_seq) == (1, 2)
    assert (stored.step_count, stored.prompt_tokens, stored.completion_tokens) == (1, 10, 2)


def test_built_in_agent_turn_job_runs_the_agent_and_tags_its_messages(env: Env) -> None:
    agent_id = env.agent()
    env.model.queue(say("I stored it.", reasoning="Memory first."))

    run = env.runs.submit(TENANT, agent_id, {"kind": AGENT_TURN, "input": "Ada likes tea"})

    assert env.record(run.id).status == "completed"
    assert "Ada likes tea" in str(env.model.requests[0].messages[-1])
    listed = env.listed(run.id)
    assert [m.message_type for m in listed] == [
        "user_message",
        "reasoning_message",
        "assistant_message",
    ]
    assert {m.run_id for m in listed} == {run.id}
    assert listed[0].content == "Ada likes tea"


def test_run_messages_exclude_the_agents_other_messages(env: Env) -> None:
    agent_id = env.agent()
    env.model.queue(say("before"), say("in the run"), say("after"))
    env.messages.send(TENANT, agent_id, LettaRequest(input="foreground 1"))
    run = env.runs.submit(TENANT, agent_id, {"kind": AGENT_TURN, "input": "background"})
    env.messages.send(TENANT, agent_id, LettaRequest(input="foreground 2"))

    listed = env.listed(run.id)
    assert [getattr(m, "content", None) for m in listed] == ["background", "in the run"]
    assert all(m.run_id == run.id for m in listed)
    assert [m.seq_id for m in listed] == [3, 4]


def test_interleaved_runs_of_one_agent_page_apart_with_full_pages(env: Env) -> None:
    agent_id = env.agent()
    env.model.queue(say("mine 1"), say("theirs"), say("mine 2"))
    other = "run-00000000-0000-4000-8000-000000000000"

    def interleaving(tenant: str, run: RunRecord) -> TurnResult:
        first = env.turn(run.agent_id, "one", run.id)
        env.turn(run.agent_id, "foreign", other)
        second = env.turn(run.agent_id, "two", run.id)
        second.messages = first.messages + second.messages
        return second

    env.runs.register("interleave", interleaving)
    run = env.runs.submit(TENANT, agent_id, {"kind": "interleave"})
    texts = lambda msgs: [getattr(m, "content", None) for m in msgs]  # noqa: E731

    assert texts(env.listed(run.id)) == ["one", "mine 1", "two", "mine 2"]
    first_page = env.listed(run.id, limit=2)
    assert texts(first_page) == ["one", "mine 1"]
    second_page = env.listed(run.id, limit=2, after=first_page[-1].id)
    assert texts(second_page) == ["two", "mine 2"]
    assert env.listed(run.id, limit=2, after=second_page[-1].id) == []
    newest = env.listed(run.id, limit=3, order="desc")
    assert texts(newest) == ["mine 2", "two", "mine 1"]
    assert texts(env.listed(run.id, order="desc", after=newest[-1].id)) == ["one"]
    assert texts(env.listed(run.id, limit=2, before=second_page[0].id)) == ["one", "mine 1"]


def test_raising_handler_fails_the_run_and_nothing_escapes(env: Env) -> None:
    agent_id = env.agent()

    def broken(tenant: str, run: RunRecord) -> TurnResult:
        raise RuntimeError("boom")

    env.runs.register("broken", broken)
    run = env.runs.submit(TENANT, agent_id, {"kind": "broken"})

    stored = env.record(run.id)
    assert (stored.status, stored.stop_reason) == ("failed", "error")
    assert stored.completed_at is not None
    assert stored.error == "RuntimeError: boom"
    wire = env.runs.get(TENANT, run.id)
    assert (wire.status, wire.stop_reason) == ("failed", "error")
    assert env.listed(run.id) == []


def test_handler_failing_after_a_step_keeps_the_steps_messages_listable(env: Env) -> None:
    agent_id = env.agent()
    env.model.queue(say("half done"))

    def half(tenant: str, run: RunRecord) -> TurnResult:
        env.turn(run.agent_id, "work", run.id)
        raise ValueError("then it broke")

    env.runs.register("half", half)
    run = env.runs.submit(TENANT, agent_id, {"kind": "half"})

    assert env.record(run.id).status == "failed"
    assert [getattr(m, "content", None) for m in env.listed(run.id)] == ["work", "half done"]


def test_provider_error_stop_reason_fails_the_run_truthfully(env: Env) -> None:
    agent_id = env.agent()
    env.model.queue(ModelServerError("provider down", status=503))

    run = env.runs.submit(TENANT, agent_id, {"kind": AGENT_TURN, "input": "x"})

    wire = env.runs.get(TENANT, run.id)
    assert (wire.status, wire.stop_reason) == ("failed", "llm_api_error")


@pytest.mark.parametrize(
    ("stop_reason", "status", "wire_reason"),
    [
        ("max_steps", "completed", "max_steps"),
        ("requires_approval", "completed", "requires_approval"),
        ("cancelled", "cancelled", "cancelled"),
        ("invalid_tool_call", "failed", "invalid_tool_call"),
        ("something_custom", "completed", None),
    ],
)
def test_stop_reason_decides_the_status(
    env: Env, stop_reason: str, status: str, wire_reason: str | None
) -> None:
    @dataclass
    class Outcome:
        stop_reason: str
        messages: list[MessageRecord]

    env.runs.register("fixed", lambda tenant, run: Outcome(stop_reason, []))
    run = env.runs.submit(TENANT, env.agent(), {"kind": "fixed"})

    wire = env.runs.get(TENANT, run.id)
    assert (wire.status, wire.stop_reason) == (status, wire_reason)
    assert env.listed(run.id) == []


def test_execute_is_a_no_op_for_a_run_already_picked_up(env: Env) -> None:
    calls: list[str] = []

    def counting(tenant: str, run: RunRecord) -> Any:
        calls.append(run.id)
        return TurnResult(None, [], "end_turn", None)  # type: ignore[arg-type]

    env.runs.register("count", counting)
    run = env.runs.submit(TENANT, env.agent(), {"kind": "count"})
    finished = env.record(run.id)

    env.runs.execute(TENANT, run.id)

    assert calls == [run.id]
    assert env.record(run.id) == finished


class StoreDown(RuntimeError):
    """What a store raises when it cannot be reached (throttled, unavailable)."""


def fail_run_writes(env: Env, monkeypatch: pytest.MonkeyPatch, status: str) -> None:
    """Make every write that would give a run `status` fail, as an unreachable store does."""
    write = env.store.write

    def flaky(tenant: str, changes: Any) -> None:
        if any(isinstance(c.record, RunRecord) and c.record.status == status for c in changes):
            raise StoreDown("DynamoDB is unavailable")
        write(tenant, changes)

    monkeypatch.setattr(env.store, "write", flaky)


def test_attempt_says_finished_then_skipped_for_a_second_delivery(env: Env) -> None:
    env.model.queue(say("ok"))
    run = env.runs.create(TENANT, env.agent(), {"kind": AGENT_TURN, "input": "x"})

    assert env.runs.attempt(TENANT, run.id) == "finished"
    finished = env.record(run.id)
    assert env.runs.attempt(TENANT, run.id) == "skipped"
    assert env.record(run.id) == finished
    assert len(env.model.requests) == 1
    assert env.runs.attempt(TENANT, "run-00000000-0000-4000-8000-000000000002") == "skipped"


def test_attempt_says_finished_for_a_failed_job(env: Env) -> None:
    def broken(tenant: str, run: RunRecord) -> TurnResult:
        raise RuntimeError("boom")

    env.runs.register("broken", broken)
    run = env.runs.create(TENANT, env.agent(), {"kind": "broken"})
    assert env.runs.attempt(TENANT, run.id) == "finished"
    assert env.record(run.id).status == "failed"


def test_attempt_says_not_started_and_leaves_the_run_created_when_its_start_fails(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.model.queue(say("ok"))
    run = env.runs.create(TENANT, env.agent(), {"kind": AGENT_TURN, "input": "x"})
    fail_run_writes(env, monkeypatch, "running")

    assert env.runs.attempt(TENANT, run.id) == "not_started"
    assert env.record(run.id).status == "created"
    assert env.model.requests == []

    monkeypatch.undo()
    assert env.runs.attempt(TENANT, run.id) == "finished"
    assert env.record(run.id).status == "completed"


def test_attempt_says_end_unrecorded_when_the_end_cannot_be_written(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.model.queue(say("ok"))
    run = env.runs.create(TENANT, env.agent(), {"kind": AGENT_TURN, "input": "x"})
    fail_run_writes(env, monkeypatch, "completed")

    assert env.runs.attempt(TENANT, run.id) == "end_unrecorded"
    assert env.record(run.id).status == "running"
    assert env.runs.attempt(TENANT, run.id) == "skipped"  # never run twice


def test_run_deleted_while_running_ends_quietly(env: Env) -> None:
    def deleting(tenant: str, run: RunRecord) -> Any:
        env.runs.delete(tenant, run.id)
        return TurnResult(None, [], "end_turn", None)  # type: ignore[arg-type]

    env.runs.register("delete", deleting)
    run = env.runs.submit(TENANT, env.agent(), {"kind": "delete"})

    with pytest.raises(NotFoundError):
        env.runs.get(TENANT, run.id)
    env.runs.execute(TENANT, "run-00000000-0000-4000-8000-000000000000")  # missing: no error


def test_unknown_run_is_not_found_everywhere(env: Env) -> None:
    absent = "run-00000000-0000-4000-8000-000000000001"
    with pytest.raises(NotFoundError, match=absent):
        env.runs.get(TENANT, absent)
    with pytest.raises(NotFoundError, match=absent):
        env.runs.delete(TENANT, absent)
    with pytest.raises(NotFoundError, match=absent):
        env.listed(absent)


def test_runs_are_tenant_scoped(env: Env) -> None:
    env.model.queue(say("ok"))
    run = env.runs.submit(TENANT, env.agent(), {"kind": AGENT_TURN, "input": "x"})
    with pytest.raises(NotFoundError):
        env.runs.get("someone-else", run.id)


def test_create_checks_the_job_kind_and_the_agent(env: Env) -> None:
    with pytest.raises(ValueError, match="nope"):
        env.runs.create(TENANT, env.agent(), {"kind": "nope"})
    with pytest.raises(NotFoundError):
        env.runs.create(TENANT, "agent-00000000-0000-4000-8000-000000000000", {"kind": AGENT_TURN})


def test_delete_removes_the_run_but_not_the_agents_messages(env: Env) -> None:
    agent_id = env.agent()
    env.model.queue(say("kept"))
    run = env.runs.submit(TENANT, agent_id, {"kind": AGENT_TURN, "input": "x"})

    env.runs.delete(TENANT, run.id)

    with pytest.raises(NotFoundError):
        env.runs.get(TENANT, run.id)
    assert len(env.store.children(TENANT, MessageRecord, agent_id, limit=10)) == 2


# -- the in-process launcher ----------------------------------------------------------------


def test_in_process_launcher_runs_in_the_background() -> None:
    launcher = InProcessLauncher(max_workers=2)
    env = make_env(launcher)
    release = threading.Event()
    started = threading.Event()
    env.model.queue(say("done in the background"))

    def slow(tenant: str, run: RunRecord) -> TurnResult:
        started.set()
        assert release.wait(timeout=10)
        return env.turn(run.agent_id, "slow work", run.id)

    env.runs.register("slow", slow)
    try:
        run = env.runs.submit(TENANT, env.agent(), {"kind": "slow"})
        # launch returned while the job is still waiting to be released
        assert started.wait(timeout=10)
        assert env.record(run.id).status == "running"
        assert launcher.wait_idle(timeout=0.05) is False
        release.set()
        assert launcher.wait_idle(timeout=10) is True
        assert env.runs.get(TENANT, run.id).status == "completed"
        assert [m.run_id for m in env.listed(run.id)] == [run.id, run.id]
    finally:
        release.set()
        launcher.shutdown()


def test_in_process_launcher_survives_a_raising_executor() -> None:
    def explode(tenant: str, run_id: str) -> None:
        raise RuntimeError("executor bug")

    ran: list[str] = []
    launcher = InProcessLauncher(explode)
    launcher.launch(TENANT, "run-a")
    assert launcher.wait_idle(timeout=10)
    launcher.bind(lambda tenant, run_id: ran.append(run_id))
    launcher.launch(TENANT, "run-b")
    assert launcher.wait_idle(timeout=10)
    assert ran == ["run-b"]
    launcher.shutdown()


def test_many_runs_in_parallel_all_finish() -> None:
    launcher = InProcessLauncher(max_workers=4)
    env = make_env(launcher)
    agent_id = env.agent()

    @dataclass
    class Outcome:
        stop_reason: str
        messages: list[MessageRecord]

    env.runs.register("quick", lambda tenant, run: Outcome("end_turn", []))
    run_ids = [env.runs.submit(TENANT, agent_id, {"kind": "quick"}).id for _ in range(12)]
    assert launcher.wait_idle(timeout=10)
    assert {env.record(r).status for r in run_ids} == {"completed"}
    launcher.shutdown()


def test_a_background_turn_with_a_fixed_id_starts_once(env: Env) -> None:
    """A resumed group send redoes a step that started a background run (its journal entry
    was not written yet): the run's id comes from the step, so it is not started twice."""
    agent_id = env.agent()
    env.model.queue(say("Stored."))
    fixed = "run-5b0f8ad3-2b5e-4c1d-9a3e-0d4c2f6b7a10"
    first = env.runs.start_turn(
        TENANT, agent_id, "review", task="remember", group_id=None, metadata={}, run_id=fixed
    )
    again = env.runs.start_turn(
        TENANT, agent_id, "review", task="remember", group_id=None, metadata={}, run_id=fixed
    )
    assert first == again == fixed
    assert env.record(fixed).status == "completed"
    assert len(env.model.requests) == 1


def test_the_in_process_launcher_tries_a_run_that_could_not_start_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As SQS redelivers a `not_started` run in the cloud, `make run`'s launcher tries it
    again later (a bounded number of times)."""
    import infra.launchers

    monkeypatch.setattr(infra.launchers, "RETRY_AFTER_S", 0.01)
    outcomes = ["not_started", "not_started", "finished"]
    calls: list[str] = []

    def attempt(tenant: str, run_id: str) -> str:
        calls.append(run_id)
        return outcomes[len(calls) - 1]

    launcher = InProcessLauncher(attempt)
    launcher.launch(TENANT, "run-1")
    assert launcher.wait_idle(5)
    assert calls == ["run-1"] * 3
    launcher.shutdown()
