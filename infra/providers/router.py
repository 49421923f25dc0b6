"""Routes each model call to its provider's adapter by the handle's provider part.

Adapters are built on first use and kept for the process (one HTTP connection pool per
provider per Lambda container); real providers are wrapped in the retrying client.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from core.llm import ChatRequest, ChatResponse, ModelClient, ModelRequestError
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

    def _client(self, provider: str) -> ModelClient:
        with self._lock:
            if provider not in self._clients:
                if provider not in self._factories:
                    raise ModelRequestError(f"Unknown model provider {provider!r}.")
                self._clients[provider] = self._factories[provider]()
            return self._clients[provider]

    def _retrying(self, inner: ModelClient) -> ModelClient:
        return RetryingModelClient(inner, budget_s=self._settings.model_retry_budget_s)

    def _openai(self) -> ModelClient:
        from infra.providers.openai_compatible import OpenAICompatibleClient

        s = self._settings
        return self._retrying(
            OpenAICompatibleClient(s.openai_base_url, s.openai_api_key, s.model_timeout_s)
        )

    def _anthropic(self) -> ModelClient:
        from infra.providers.anthropic import AnthropicClient

        s = self._settings
        if not s.anthropic_api_key:
            raise ModelRequestError("ANTHROPIC_API_KEY is not set for anthropic/... models.")
        return self._retrying(
            AnthropicClient(s.anthropic_api_key, s.anthropic_base_url, s.model_timeout_s)
        )

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
