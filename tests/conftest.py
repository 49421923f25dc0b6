"""Shared fixtures: a moto DynamoDB table built from template.yaml, the app on top of it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from moto import mock_aws

from handler.app import create_app
from handler.composition import Services, build_services
from infra.launchers import InProcessLauncher
from infra.settings import Settings
from infra.table_definition import create_table_kwargs

TABLE = "letta-groups-test"

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        boto3.client("dynamodb", region_name="us-east-1").create_table(**create_table_kwargs(TABLE))
        yield


@pytest.fixture
def settings(aws: None) -> Settings:
    return Settings(table_name=TABLE, aws_region="us-east-1", serialize_dynamodb_calls=True)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    built = build_services(settings)
    yield built
    # Background runs must end while moto still mocks AWS.
    launcher = built.runs.launcher
    if isinstance(launcher, InProcessLauncher):
        assert launcher.wait_idle(timeout=30), "a background run did not finish"
        launcher.shutdown()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as test_client:
        yield test_client


class Api:
    """Small helpers that create resources through the public API and check the status."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.client.request(method, path, **kwargs)
        assert response.status_code == 200, (method, path, response.status_code, response.text)
        return response.json()

    def agent(self, name: str = "agent", **body: Any) -> dict[str, Any]:
        return self.ok("POST", "/v1/agents/", json={"name": name, **body})

    def block(self, label: str = "shared", value: str = "v", **body: Any) -> dict[str, Any]:
        return self.ok("POST", "/v1/blocks/", json={"label": label, "value": value, **body})

    def group(self, agent_ids: list[str], **body: Any) -> dict[str, Any]:
        body.setdefault("description", "a group")
        return self.ok("POST", "/v1/groups/", json={"agent_ids": agent_ids, **body})


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)
