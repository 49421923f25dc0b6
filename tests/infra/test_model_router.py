"""The model router: provider by handle, keys from settings or the provider secret."""

from __future__ import annotations

import json

import boto3
import pytest

from core.llm import ChatMessage, ChatRequest, ModelRequestError
from infra.providers.anthropic import AnthropicClient
from infra.providers.offline import OfflineModel
from infra.providers.retrying import RetryingModelClient
from infra.providers.router import ModelRouter
from infra.settings import Settings


def _request(provider: str) -> ChatRequest:
    return ChatRequest(
        provider=provider,
        model="m",
        system="s",
        messages=(ChatMessage(role="user", text="hi"),),
        metadata={"agent_name": "a"},
    )


def test_offline_handles_are_answered_without_network() -> None:
    router = ModelRouter(Settings())
    assert "hi" in (router.complete(_request("offline")).text or "")
    assert isinstance(router._client("offline"), OfflineModel)


def test_unknown_provider_is_a_request_error() -> None:
    with pytest.raises(ModelRequestError):
        ModelRouter(Settings()).complete(_request("mystery"))


def test_missing_anthropic_key_is_a_request_error_not_a_crash() -> None:
    with pytest.raises(ModelRequestError, match="Anthropic"):
        ModelRouter(Settings(anthropic_api_key=None)).complete(_request("anthropic"))


def test_provider_keys_come_from_the_secret_when_not_set(aws: None) -> None:
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    arn = secrets.create_secret(
        Name="letta-groups/providers",
        SecretString=json.dumps({"anthropic_api_key": "sk-ant-from-secret"}),
    )["ARN"]
    router = ModelRouter(Settings(provider_secret_arn=arn, anthropic_api_key=None))
    client = router._client("anthropic")
    assert isinstance(client, RetryingModelClient)
    assert isinstance(client.inner, AnthropicClient)
    assert client.inner.api_key == "sk-ant-from-secret"
