"""`python -m handler.keys`: create prints the key once, list shows prefixes only, revoke
takes the key or its prefix, and mistakes end with a message and exit code 1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from core.services.api_keys import KEY_MARK, VISIBLE_CHARS
from handler.keys import main
from infra.table_definition import create_table_kwargs

TABLE = "keys-tool"
WHERE = ["--table", TABLE, "--region", "eu-west-1"]


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    with mock_aws():
        boto3.client("dynamodb", region_name="eu-west-1").create_table(**create_table_kwargs(TABLE))
        yield


def test_create_list_revoke(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*WHERE, "create", "--tenant", "alice", "--name", "ci"]) == 0
    created = capsys.readouterr()
    key = created.out.strip()
    assert key.startswith(KEY_MARK) and "\n" not in key
    assert "not shown again" in created.err and key not in created.err

    assert main([*WHERE, "create"]) == 0
    second = capsys.readouterr().out.strip()

    assert main([*WHERE, "list"]) == 0
    listing = capsys.readouterr().out
    assert key not in listing and second not in listing
    rows = [line.split("\t") for line in listing.splitlines()[1:]]
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
        (key[:VISIBLE_CHARS] + "…", "alice", "active", "ci"),
        (second[:VISIBLE_CHARS] + "…", "default", "active", ""),
    ]

    assert main([*WHERE, "revoke", key[:VISIBLE_CHARS]]) == 0
    assert "Revoked" in capsys.readouterr().out
    assert main([*WHERE, "list", "--tenant", "alice"]) == 0
    (row,) = capsys.readouterr().out.splitlines()[1:]
    assert row.split("\t")[3].startswith("revoked ")


def test_mistakes_exit_1_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*WHERE, "revoke", "lgs-nothing1"]) == 1
    assert "No API key" in capsys.readouterr().err
    assert main([*WHERE, "create", "--tenant", "no spaces"]) == 1
    assert "tenant name" in capsys.readouterr().err
    assert main(["--table", "missing", "--region", "eu-west-1", "list"]) == 1
    assert "could not be used" in capsys.readouterr().err


def test_local_manages_the_keys_make_run_reads(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--local`: the SQLite file `make run` keeps its state in; a server on it opens with
    the key."""
    from fastapi.testclient import TestClient

    from handler.app import create_app
    from handler.composition import build_services
    from handler.local import local_store
    from infra.settings import Settings

    state = tmp_path / "state.sqlite3"
    monkeypatch.setenv("SQLITE_PATH", str(state))
    monkeypatch.setenv("OPEN_API", "false")
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    assert main(["--local", "create", "--tenant", "alice"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert state.exists()
    app = create_app(build_services(local_store(Settings())))
    with TestClient(app) as client:
        assert client.get("/v1/agents/").status_code == 401
        opened = client.get("/v1/agents/", headers={"Authorization": f"Bearer {key}"})
        assert opened.status_code == 200, opened.text
