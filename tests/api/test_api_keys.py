"""Stored API keys through the app: a closed API refuses every request until a key
exists, the key tool's keys open their tenant, a revoked key gets 401, and 401 comes
before the body is read."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from handler.app import create_app
from handler.auth import PUBLIC_PATHS
from handler.composition import build_services
from handler.keys import main as keys_tool
from infra.settings import Settings
from tests.conftest import TABLE


def _closed(settings: Settings) -> TestClient:
    """A deploy's settings: OPEN_API=false, no API_KEYS; no cache, to see revocation now."""
    closed = settings.model_copy(update={"open_api": False, "api_key_cache_s": 0})
    return TestClient(create_app(build_services(closed)))


def _create_key(capsys: pytest.CaptureFixture[str], tenant: str) -> str:
    argv = ["--table", TABLE, "--region", "us-east-1", "create", "--tenant", tenant]
    assert keys_tool(argv) == 0
    return capsys.readouterr().out.strip()


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_closed_api_refuses_everything_until_a_key_exists(settings: Settings) -> None:
    client = _closed(settings)
    for method, path in (("GET", "/v1/agents/"), ("POST", "/v1/groups/"), ("GET", "/nowhere")):
        response = client.request(method, path, headers=_bearer("lgs-guess"))
        assert response.status_code == 401, (method, path)
        assert response.json() == {"detail": "Invalid API key."}
    assert client.get("/v1/health/").status_code == 200


def test_the_key_tool_s_keys_open_their_tenant_until_revoked(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    client = _closed(settings)
    alice, bob = _create_key(capsys, "alice"), _create_key(capsys, "bob")
    made = client.post("/v1/agents/", json={"name": "a"}, headers=_bearer(alice))
    assert made.status_code == 200
    agent_id = made.json()["id"]
    assert client.get(f"/v1/agents/{agent_id}", headers=_bearer(alice)).status_code == 200
    assert client.get(f"/v1/agents/{agent_id}", headers={"X-API-Key": alice}).status_code == 200
    assert client.get(f"/v1/agents/{agent_id}", headers=_bearer(bob)).status_code == 404
    assert client.get("/v1/agents/", headers=_bearer(bob)).json() == []

    assert keys_tool(["--table", TABLE, "--region", "us-east-1", "revoke", alice]) == 0
    revoked = client.get(f"/v1/agents/{agent_id}", headers=_bearer(alice))
    assert (revoked.status_code, revoked.json()) == (401, {"detail": "Invalid API key."})
    assert revoked.headers["www-authenticate"] == "Bearer"
    assert client.get("/v1/agents/", headers=_bearer(bob)).status_code == 200


@pytest.mark.parametrize(
    "body", [b"{not json", b'{"name": ', b"\xff\xfe", b'{"name": "' + b"x" * 10_000 + b'"}']
)
def test_401_comes_before_the_body_is_read(settings: Settings, body: bytes) -> None:
    client = _closed(settings)
    headers = {"content-type": "application/json"}
    for path in ("/v1/agents/", "/v1/groups/", f"/v1/groups/group-{'0' * 8}/messages"):
        response = client.post(path, content=body, headers=headers)
        assert response.status_code == 401, (path, response.text)


def test_with_a_key_a_bad_body_is_the_route_s_422(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    client = _closed(settings)
    key = _create_key(capsys, "alice")
    headers = {**_bearer(key), "content-type": "application/json"}
    assert client.post("/v1/agents/", content=b"{not json", headers=headers).status_code == 422


def test_an_open_api_serves_callers_without_a_key(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    client = TestClient(create_app(build_services(settings.model_copy(update={"open_api": True}))))
    key = _create_key(capsys, "alice")
    client.post("/v1/agents/", json={"name": "mine"}, headers=_bearer(key))
    assert client.get("/v1/agents/").json() == []  # the open tenant, `default`
    assert [a["name"] for a in client.get("/v1/agents/", headers=_bearer(key)).json()] == ["mine"]


def test_exactly_the_public_paths_lack_a_security_scheme(client: TestClient) -> None:
    """handler.auth lets PUBLIC_PATHS through without a key; the OpenAPI document must say
    the same of every route, so the two cannot drift apart."""
    document = client.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            public = path in PUBLIC_PATHS
            assert ("security" not in operation) == public, (method, path)
