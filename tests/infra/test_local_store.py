"""`make run`'s store: a SQLite file that keeps state across restarts, DynamoDB on request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from handler.app import create_app
from handler.composition import build_services
from handler.local import local_store
from infra.dynamodb_store import DynamoDBStore
from infra.launchers import InProcessLauncher
from infra.settings import Settings
from infra.sqlite_store import SQLiteStore
from tests.conftest import Api


def _serve(path: Path) -> tuple[TestClient, Any]:
    """The app `make run` builds (handler.local.main) over the SQLite file at `path`."""
    services = build_services(local_store(Settings(sqlite_path=path)))
    return TestClient(create_app(services)), services


def _stop(services: Any) -> None:
    launcher = services.runs.launcher
    if isinstance(launcher, InProcessLauncher):
        assert launcher.wait_idle(timeout=30)
        launcher.shutdown()


def test_make_run_keeps_agents_groups_and_transcripts_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "data" / "letta.sqlite3"
    client, services = _serve(path)
    with client:
        api = Api(client)
        alice, bob = api.agent("alice"), api.agent("bob")
        notes = api.block("notes", "ship on Friday")
        group = api.group([alice["id"], bob["id"]], manager_config={"manager_type": "round_robin"})
        api.ok("PATCH", f"/v1/groups/{group['id']}/blocks/attach/{notes['id']}")
        api.ok("POST", f"/v1/groups/{group['id']}/messages", json={"input": "hello there"})
        transcript = api.ok("GET", f"/v1/groups/{group['id']}/messages")
        alice_messages = api.ok("GET", f"/v1/agents/{alice['id']}/messages")
    _stop(services)
    assert path.exists()

    client, services = _serve(path)  # a new process would build exactly this
    with client:
        api = Api(client)
        assert {a["id"] for a in api.ok("GET", "/v1/agents/")} == {alice["id"], bob["id"]}
        again = api.ok("GET", f"/v1/groups/{group['id']}")
        assert again["agent_ids"] == [alice["id"], bob["id"]]
        assert notes["id"] in again["shared_block_ids"]
        assert api.ok("GET", f"/v1/groups/{group['id']}/messages") == transcript
        assert any("hello there" in str(m.get("content")) for m in transcript)
        assert api.ok("GET", f"/v1/agents/{alice['id']}/messages") == alice_messages
        # The restarted server goes on where it stopped: the next send sees the history.
        api.ok("POST", f"/v1/groups/{group['id']}/messages", json={"input": "second"})
        assert len(api.ok("GET", f"/v1/groups/{group['id']}/messages")) > len(transcript)
    _stop(services)


def test_make_run_uses_sqlite_unless_a_dynamodb_endpoint_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = local_store(Settings(sqlite_path=tmp_path / "s.sqlite3"))
    assert isinstance(build_services(settings).agents._store, SQLiteStore)  # noqa: SLF001

    created: list[str] = []
    monkeypatch.setattr("handler.local.dynamodb_client", lambda s: object())
    monkeypatch.setattr(
        "infra.local_dynamodb.ensure_table", lambda client, name: created.append(name)
    )
    endpoint = Settings(table_name="local-table").model_copy(
        update={"dynamodb_endpoint_url": "http://127.0.0.1:1"}
    )
    settings = local_store(endpoint)
    assert created == ["local-table"]
    assert isinstance(build_services(settings).agents._store, DynamoDBStore)  # noqa: SLF001


def test_a_restarted_make_run_resumes_the_run_its_predecessor_left_unfinished(
    tmp_path: Path,
) -> None:
    """The first server dies during an async group send's second turn; the next one, on the
    same file, resumes that run from its last committed turn at start-up."""
    from handler.local import resume_left_runs
    from infra.providers.router import ModelRouter
    from tests.fakes import Killed, Mortal, ScriptedModel

    path = tmp_path / "letta.sqlite3"
    settings = local_store(Settings(sqlite_path=path))
    offline = ModelRouter(settings)

    class DyingStore(Mortal, SQLiteStore):
        """make run's store, in a process that can die."""

    store = DyingStore(path)

    def die(request: Any) -> Any:
        store.dead = True
        raise Killed()

    first = build_services(settings, store, model=ScriptedModel(offline.complete, die))
    with TestClient(create_app(first)) as client:
        api = Api(client)
        group = api.group([api.agent(n)["id"] for n in ("ann", "bob", "cid")])
        run = api.ok("POST", f"/v1/groups/{group['id']}/messages/async", json={"input": "go"})
        launcher = first.runs.launcher
        assert isinstance(launcher, InProcessLauncher) and launcher.wait_idle(timeout=30)

    second = build_services(settings, model=ScriptedModel(offline.complete, offline.complete))
    assert resume_left_runs(second, settings) == [run["id"]]
    _stop(second)
    with TestClient(create_app(second)) as client:
        api = Api(client)
        done = api.ok("GET", f"/v1/runs/{run['id']}")
        assert (done["status"], done["stop_reason"]) == ("completed", "end_turn")
        listed = api.ok(
            "GET", f"/v1/groups/{group['id']}/messages", params={"order": "asc", "limit": 50}
        )
        assert [m.get("name") for m in listed if m["message_type"] == "assistant_message"] == [
            "ann",
            "bob",
            "cid",
        ]
        assert [m["message_type"] for m in listed].count("user_message") == 1
