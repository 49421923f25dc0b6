"""API keys through the Lambda entry, configured as the template deploys it (OPEN_API=false,
no API_KEYS): 401 before the body is parsed, health open, a created key opens its tenant,
also behind an HTTP API stage prefix (API_BASE_PATH)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from handler.keys import main as keys_tool
from tests import test_lambda_entry as lambda_entry
from tests.conftest import TABLE

invoke, http_event, JSON = lambda_entry.invoke, lambda_entry.http_event, lambda_entry.JSON
# The entry module, built from the environment: fixtures named before it set that first.
entry = lambda_entry.entry


@pytest.fixture
def closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPEN_API", "false")
    monkeypatch.setenv("API_KEY_CACHE_S", "0")


@pytest.fixture
def staged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_BASE_PATH", "/prod")


@pytest.mark.parametrize("make_event", lambda_entry.BOTH)
def test_a_deployed_api_answers_401_before_parsing_and_opens_with_a_created_key(
    closed: None, entry: ModuleType, make_event: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    def bad_json(headers: dict[str, str]) -> dict[str, Any]:
        event: dict[str, Any] = make_event("POST", "/v1/agents/", {}, headers)
        event["body"] = "{not json"
        return event

    assert invoke(entry, bad_json(JSON))[0] == 401
    assert invoke(entry, make_event("GET", "/v1/health/"))[0] == 200

    capsys.readouterr()  # the entry's log lines so far
    assert keys_tool(["--table", TABLE, "--region", "us-east-1", "create"]) == 0
    keyed = {**JSON, "Authorization": f"Bearer {capsys.readouterr().out.strip()}"}
    assert (
        invoke(entry, make_event("POST", "/v1/agents/", lambda_entry.AGENT_BODY, keyed))[0] == 200
    )
    assert invoke(entry, bad_json(keyed))[0] == 422


def test_health_stays_open_behind_a_stage_prefix(
    closed: None, staged: None, entry: ModuleType
) -> None:
    assert invoke(entry, http_event("GET", "/prod/v1/health/"))[0] == 200
    assert invoke(entry, http_event("GET", "/prod/v1/agents/"))[0] == 401
