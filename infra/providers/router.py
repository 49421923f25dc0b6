"""Routes each model call to its provider's adapter by the handle's provider part.

Adapters are built on first use and kept for the process (one HTTP connection pool per
provider per Lambda container); real providers are wrapped in the retrying client.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from core.llm import (
    ChatRequest,
    ChatResponse,
    ModelClient,
    ModelRequestError,
    OnDelta,
    complete_with_deltas,
)
from infra.providers.offline import OfflineModel
from infra.providers.retrying import RetryingModelClient
from infra.settings import Settings


class ModelRouter:
    def __init__(
        self, settings: Settings, factories: dict[str, Callable[[], ModelClient]] | None = None
    ) -> None:
        self._settings = settings
        self._factories = factories or {
            "offline": lambda: OfflineModel(settings.offline_model_latency_ms),
            "openai": self._openai,
            "anthropic": self._anthropic,
            "bedrock": self._bedrock,
        }
        self._clients: dict[str, ModelClient] = {}
        self._lock = threading.Lock()

    def complete(self, request: ChatRequest) -> ChatResponse:
        return self._client(request.provider).complete(request)

    def complete_streaming(self, request: ChatRequest, on_delta: OnDelta) -> ChatResponse:
        return complete_with_deltas(self._client(request.provider), request, on_delta)

    def _client(self, provider: str) -> ModelClient:
        with self._lock:
            if provider not in self._clients:
                if provider not in self._factories:
                    raise ModelRequestError(f"Unknown model provider {provider!r}.")
                self._clients[provider] = self._factories[provider]()
            return self._clients[provider]

    def _retrying(self, inner: ModelClient) -> ModelClient:
        return RetryingModelClient(inner, budget_s=self._settings.model_retry_budget_s)

    def _key(self, name: str) -> str | None:
        """A provider key: from settings, else from the provider secret (deployed)."""
        direct: str | None = getattr(self._settings, name)
        if direct or not self._settings.provider_secret_arn:
            return direct
        from aws_lambda_powertools.utilities import parameters

        secret = parameters.get_secret(
            self._settings.provider_secret_arn, transform="json", max_age=300
        )
        return secret.get(name) if isinstance(secret, dict) else None

    def _openai(self) -> ModelClient:
        from infra.providers.openai_compatible import OpenAICompatibleClient

        s = self._settings
        key = self._key("openai_api_key")
        return self._retrying(OpenAICompatibleClient(s.openai_base_url, key, s.model_timeout_s))

    def _anthropic(self) -> ModelClient:
        from infra.providers.anthropic import AnthropicClient

        s = self._settings
        key = self._key("anthropic_api_key")
        if not key:
            raise ModelRequestError(
                "No Anthropic key: set ANTHROPIC_API_KEY or anthropic_api_key in the "
                "provider secret."
            )
        return self._retrying(AnthropicClient(key, s.anthropic_base_url, s.model_timeout_s))

    def _bedrock(self) -> ModelClient:
        import boto3
        from botocore.config import Config

        from infra.providers.bedrock import BedrockConverseClient

        s = self._settings
        client = boto3.client(
            "bedrock-runtime",
            region_name=s.bedrock_region or s.aws_region,
            config=Config(read_timeout=s.model_timeout_s, retries={"max_attempts": 1}),
        )
        return self._retrying(BedrockConverseClient(client))
