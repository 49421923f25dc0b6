"""/v1/runs through the app on moto: status, messages, delete, ids, background execution."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.errors import NotFoundError
from core.records import RunRecord
from core.runtime.agent_loop import TurnResult
from core.services.runs import AGENT_TURN, RunService
from infra.launchers import InProcessLauncher
from tests.api.test_response_schemas import assert_valid
from tests.conftest import Api

TENANT = "default"


def runs_of(client: TestClient) -> RunService:
    return client.app.state.services.runs  # type: ignore[attr-defined]


def launcher_of(client: TestClient) -> InProcessLauncher:
    launcher = runs_of(client).launcher
    assert isinstance(launcher, InProcessLauncher)
    return launcher


def executed_run(client: TestClient, agent_id: str, job: dict[str, Any]) -> RunRecord:
    """A run created through the service and executed synchronously in the test."""
    runs = runs_of(client)
    run = runs.create(TENANT, agent_id, job, {"source": "test"})
    runs.execute(TENANT, run.id)
    return run


@pytest.fixture
def agent_id(api: Api) -> str:
    return api.agent("sleeper")["id"]


def test_completed_run_reads_back_with_its_end(client: TestClient, agent_id: str) -> None:
    run = executed_run(client, agent_id, {"kind": AGENT_TURN, "input": "note: Ada likes tea"})

    body = assert_valid("GET", "/v1/runs/{run_id}", client.get(f"/v1/runs/{run.id}"))

    assert body["id"] == run.id and len(run.id) == 40
    assert body["status"] == "completed"
    assert body["stop_reason"] == "end_turn"
    assert body["completed_at"] is not None and body["completed_at"] >= body["created_at"]
    assert body["agent_id"] == agent_id
    assert body["metadata"] == {"source": "test"}
    assert body["background"] is True


def test_run_messages_carry_the_run_id_in_order(client: TestClient, agent_id: str) -> None:
    client.post(f"/v1/agents/{agent_id}/messages", json={"input": "foreground"})
    run = executed_run(client, agent_id, {"kind": AGENT_TURN, "input": "background note"})

    url = f"/v1/runs/{run.id}/messages"
    listed = assert_valid("GET", "/v1/runs/{run_id}/messages", client.get(url))

    assert listed, "a completed run lists what it produced"
    assert {m["run_id"] for m in listed} == {run.id}
    assert listed[0]["message_type"] == "user_message"
    assert listed[0]["content"] == "background note"
    seqs = [m["seq_id"] for m in listed]
    assert seqs == sorted(seqs)
    newest_first = client.get(url, params={"order": "desc"}).json()
    assert [m["id"] for m in newest_first] == [m["id"] for m in reversed(listed)]
    first = client.get(url, params={"limit": 1}).json()
    rest = client.get(url, params={"after": first[-1]["id"]}).json()
    assert [m["id"] for m in first + rest] == [m["id"] for m in listed]
    everything = client.get(f"/v1/agents/{agent_id}/messages", params={"limit": 100}).json()
    assert len(everything) > len(listed)


def test_use_assistant_message_false_shows_the_tool_calls(api: Api, client: TestClient) -> None:
    legacy = api.agent("legacy", agent_type="memgpt_agent")["id"]
    run = executed_run(client, legacy, {"kind": AGENT_TURN, "input": "hello"})
    url = f"/v1/runs/{run.id}/messages"

    default = {m["message_type"] for m in client.get(url).json()}
    raw = {
        m["message_type"] for m in client.get(url, params={"use_assistant_message": "false"}).json()
    }

    assert "assistant_message" in default
    assert "tool_call_message" in raw and "assistant_message" not in raw


def test_raising_handler_gives_a_failed_run(client: TestClient, agent_id: str) -> None:
    def broken(tenant: str, run: RunRecord) -> TurnResult:
        raise RuntimeError("boom")

    runs_of(client).register("broken", broken)
    run = executed_run(client, agent_id, {"kind": "broken"})

    body = assert_valid("GET", "/v1/runs/{run_id}", client.get(f"/v1/runs/{run.id}"))
    assert (body["status"], body["stop_reason"]) == ("failed", "error")
    assert body["completed_at"] is not None
    assert client.get(f"/v1/runs/{run.id}/messages").json() == []


def test_delete_run(client: TestClient, agent_id: str) -> None:
    run = executed_run(client, agent_id, {"kind": AGENT_TURN, "input": "x"})
    url = f"/v1/runs/{run.id}"

    body = assert_valid("DELETE", "/v1/runs/{run_id}", client.delete(url))

    assert isinstance(body["message"], str) and run.id in body["message"]
    for path in (url, f"{url}/messages"):
        response = client.get(path)
        assert response.status_code == 404 and run.id in response.json()["detail"]
    assert client.delete(url).status_code == 404


@pytest.mark.parametrize("method,suffix", [("GET", ""), ("DELETE", ""), ("GET", "/messages")])
def test_unknown_run_is_404_naming_it(client: TestClient, method: str, suffix: str) -> None:
    absent = f"run-{uuid.uuid4()}"
    response = client.request(method, f"/v1/runs/{absent}{suffix}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Run not found: {absent}"}


@pytest.mark.parametrize(
    "bad",
    [
        "run-123",
        "job-123e4567-e89b-42d3-8456-426614174000",
        "run-123E4567-E89B-42D3-8456-426614174000",
        "agent-123e4567-e89b-42d3-8456-426614174000",
    ],
)
@pytest.mark.parametrize("method,suffix", [("GET", ""), ("DELETE", ""), ("GET", "/messages")])
def test_malformed_run_id_is_422_naming_the_parameter(
    client: TestClient, bad: str, method: str, suffix: str
) -> None:
    response = client.request(method, f"/v1/runs/{bad}{suffix}")
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [d["loc"] for d in detail] == [["path", "run_id"]]
    assert "run-<uuid4>" in str(response.json()) or "^run-" in str(response.json())


def test_unknown_cursor_is_400(client: TestClient, agent_id: str) -> None:
    run = executed_run(client, agent_id, {"kind": AGENT_TURN, "input": "x"})
    absent = f"message-{uuid.uuid4()}"
    response = client.get(f"/v1/runs/{run.id}/messages", params={"after": absent})
    assert response.status_code == 400 and absent in response.json()["detail"]


def test_other_tenants_run_is_404(client: TestClient, agent_id: str) -> None:
    runs = runs_of(client)
    run = runs.create(TENANT, agent_id, {"kind": AGENT_TURN, "input": "x"})
    assert runs.get("default", run.id).status == "created"
    with pytest.raises(NotFoundError):
        runs.get("other", run.id)


def test_submitted_run_executes_in_the_background(client: TestClient, agent_id: str) -> None:
    runs = runs_of(client)
    release = threading.Event()

    def slow(tenant: str, run: RunRecord) -> TurnResult:
        assert release.wait(timeout=10)
        return runs.agent_turn(tenant, run)

    runs.register("slow", slow)
    try:
        run = runs.submit(TENANT, agent_id, {"kind": "slow", "input": "later"})
        # submit returned while the job waits: the run is not finished yet
        assert client.get(f"/v1/runs/{run.id}").json()["status"] in ("created", "running")
        assert launcher_of(client).wait_idle(timeout=0.05) is False
    finally:
        release.set()
    assert launcher_of(client).wait_idle(timeout=30)
    body = assert_valid("GET", "/v1/runs/{run_id}", client.get(f"/v1/runs/{run.id}"))
    assert body["status"] == "completed"
    listed = client.get(f"/v1/runs/{run.id}/messages").json()
    assert listed and {m["run_id"] for m in listed} == {run.id}
