"""Bearer keys through FastAPI's security classes: the same answers, and the schemes listed in
the OpenAPI document so generated clients and /docs know how to authenticate."""

from __future__ import annotations

from fastapi.testclient import TestClient

from handler.app import create_app
from handler.composition import build_services
from infra.settings import Settings

MISSING = {"detail": "Missing credentials: send 'Authorization: Bearer <key>'."}


def _keyed(settings: Settings) -> TestClient:
    return TestClient(create_app(build_services(settings.model_copy(update={"api_keys": "k1"}))))


def test_openapi_lists_the_bearer_scheme_on_protected_routes(client: TestClient) -> None:
    document = client.app.openapi()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearerAuth"]["description"],
    }
    assert schemes["apiKeyHeader"]["in"] == "header"
    assert schemes["apiKeyHeader"]["name"] == "X-API-Key"
    listing = document["paths"]["/v1/groups/"]["get"]
    assert {"bearerAuth": []} in listing["security"]
    assert "security" not in document["paths"]["/v1/health/"]["get"]


def test_missing_and_unknown_keys_are_401_through_the_error_mapper(settings: Settings) -> None:
    client = _keyed(settings)
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic azE6"}):
        response = client.get("/v1/groups/", headers=headers)
        assert (response.status_code, response.json()) == (401, MISSING), headers
        assert response.headers["www-authenticate"] == "Bearer"
    for headers in ({"Authorization": "Bearer nope"}, {"X-API-Key": "nope"}):
        response = client.get("/v1/groups/", headers=headers)
        assert (response.status_code, response.json()) == (401, {"detail": "Invalid API key."})


def test_a_key_opens_by_bearer_or_x_api_key_and_bearer_wins(settings: Settings) -> None:
    client = _keyed(settings)
    assert client.get("/v1/groups/", headers={"Authorization": "Bearer k1"}).status_code == 200
    assert client.get("/v1/groups/", headers={"authorization": "bearer k1"}).status_code == 200
    assert client.get("/v1/groups/", headers={"X-API-Key": "k1"}).status_code == 200
    both = {"Authorization": "Bearer nope", "X-API-Key": "k1"}
    assert client.get("/v1/groups/", headers=both).status_code == 401


def test_without_keys_no_credentials_are_needed(client: TestClient) -> None:
    assert client.get("/v1/groups/").status_code == 200
    assert client.get("/v1/groups/", headers={"Authorization": "Bearer any"}).status_code == 200
