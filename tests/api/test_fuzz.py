"""Schemathesis against the app's own OpenAPI document: whatever the schema allows (and
what it does not), no 5xx, and every response has a documented status, content type and
body schema. `make test` runs a bounded pass with a fixed seed; `make fuzz` a longer one
(FUZZ_EXAMPLES examples per operation)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from schemathesis import checks

from handler.app import create_app
from handler.composition import Services

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]
"""No 5xx, and nothing outside the documented statuses, content types and schemas."""
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))


# The document does not depend on the services: read it from an app without any, then
# call an app on moto for each case.
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(services=object()))  # type: ignore[arg-type]
# Examples and random generation only: the coverage phase's boundary cases run to
# thousands of requests. Valid and invalid data both.
schema.config.phases.coverage.enabled = False
schema.config.generation.update(max_examples=EXAMPLES, deterministic=True)


KEY = "fuzz-key"


@pytest.fixture
def fuzz_app(services: Services) -> FastAPI:
    """Keys on, so the fuzzer sees 401s for bad credentials and sends a good one."""
    keyed = services.settings.model_copy(update={"api_keys": KEY})
    return create_app(services.replace(settings=keyed))


@schema.parametrize()
@settings(
    phases=[Phase.explicit, Phase.generate],
    max_examples=EXAMPLES,
    derandomize=True,  # a fixed seed: the same cases every run
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_the_api_keeps_to_its_openapi_document(case: schemathesis.Case, fuzz_app: FastAPI) -> None:
    case.call_and_validate(app=fuzz_app, headers={"Authorization": f"Bearer {KEY}"}, checks=CHECKS)


def test_the_fuzz_app_is_the_real_one(client: TestClient) -> None:
    """The document fuzzed is the one clients read."""
    assert client.get("/openapi.json").json()["info"]["title"] == "letta-groups-serverless"
