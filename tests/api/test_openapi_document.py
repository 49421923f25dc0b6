"""The OpenAPI document tells the truth: the statuses routes really answer, with their
body models, `text/event-stream` for the stream routes, the bearer scheme, and the
one-of rule of a send body."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

GROUP_SEND = "/v1/groups/{group_id}/messages"


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def _statuses(document: dict[str, Any], path: str, method: str) -> set[str]:
    return set(document["paths"][path][method]["responses"])


def test_routes_list_the_errors_they_answer(document: dict[str, Any]) -> None:
    send = _statuses(document, GROUP_SEND, "post")
    assert {"200", "400", "401", "404", "409", "413", "422", "503"} <= send
    assert {"200", "401", "404", "422", "503"} <= _statuses(
        document, "/v1/agents/{agent_id}", "get"
    )
    assert "413" not in _statuses(document, "/v1/agents/{agent_id}", "get")
    assert "400" in _statuses(document, "/v1/groups/", "get")  # an unknown cursor
    assert _statuses(document, "/v1/health/", "get") == {"200"}
    error = document["paths"][GROUP_SEND]["post"]["responses"]["409"]
    ref = error["content"]["application/json"]["schema"]["$ref"]
    assert document["components"]["schemas"][ref.rsplit("/", 1)[-1]]["required"] == ["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/groups/{group_id}/messages/stream",
        "/v1/agents/{agent_id}/messages/stream",
        "/v1/runs/{run_id}/stream",
    ],
)
def test_stream_routes_answer_server_sent_events(document: dict[str, Any], path: str) -> None:
    content = document["paths"][path]["post"]["responses"]["200"]["content"]
    assert list(content) == ["text/event-stream"]


def test_the_agent_send_answers_json_or_a_stream(document: dict[str, Any]) -> None:
    content = document["paths"]["/v1/agents/{agent_id}/messages"]["post"]["responses"]["200"]
    assert set(content["content"]) == {"application/json", "text/event-stream"}


def test_the_bearer_scheme_guards_the_routes(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert {"bearerAuth": []} in document["paths"][GROUP_SEND]["post"]["security"]


def test_a_send_body_takes_exactly_one_of_messages_or_input(document: dict[str, Any]) -> None:
    ref = document["paths"][GROUP_SEND]["post"]["requestBody"]["content"]["application/json"]
    name = ref["schema"]["$ref"].rsplit("/", 1)[-1]
    body = {**document["components"]["schemas"][name], "components": document["components"]}
    validator = jsonschema.Draft202012Validator(body)
    message = {"role": "user", "content": "hi"}
    assert validator.is_valid({"input": "hi"})
    assert validator.is_valid({"messages": [message]})
    assert validator.is_valid({"messages": [message], "input": None})
    assert not validator.is_valid({"messages": [message], "input": "hi"})
    assert not validator.is_valid({})
    assert not validator.is_valid({"messages": None, "input": None})
    approval = {"type": "approval", "approve": True, "approval_request_id": "message-1"}
    assert validator.is_valid({"messages": [approval]})
