"""Model handles (`provider/model`) and the llm_config each one shows on an agent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import InvalidInputError, quote


@dataclass(frozen=True)
class Provider:
    name: str
    endpoint_type: str
    """The closest value of Letta's `model_endpoint_type` enum, for the deprecated llm_config."""
    context_window: int
    image_sources: frozenset[str] = frozenset({"url", "base64"})
    """Which image sources the provider's API accepts in a user message."""


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in [
        Provider("openai", "openai", 128_000),
        Provider("anthropic", "anthropic", 200_000),
        Provider("bedrock", "bedrock", 200_000, frozenset({"base64"})),
        # The built-in offline model speaks the same tool-calling protocol as the others;
        # Letta's enum has no value for it, and the handle and provider_name say what it is.
        Provider("offline", "openai", 32_000),
    ]
}


def parse_handle(handle: str, loc: tuple[str | int, ...] = ("body", "model")) -> tuple[str, str]:
    """Split `provider/model`, rejecting unknown providers with a 422 that lists the known."""
    provider, sep, model = handle.partition("/")
    if not sep or not provider or not model:
        raise InvalidInputError(
            f"Model handle {quote(handle)} must look like 'provider/model-name'.", loc
        )
    if provider not in PROVIDERS:
        known = ", ".join(sorted(PROVIDERS))
        raise InvalidInputError(
            f"Unknown model provider {quote(provider)} in {quote(handle)}; known providers: "
            f"{known}.",
            loc,
        )
    return provider, model


def llm_config_for(
    handle: str,
    context_window: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The llm_config an agent with this handle reports."""
    provider_name, model = parse_handle(handle)
    provider = PROVIDERS[provider_name]
    config: dict[str, Any] = {
        "model": model,
        "display_name": model,
        "model_endpoint_type": provider.endpoint_type,
        "model_endpoint": None,
        "provider_name": provider_name,
        "provider_category": "base",
        "context_window": context_window or provider.context_window,
        "put_inner_thoughts_in_kwargs": False,
        "handle": handle,
        "temperature": 0.7,
        "max_tokens": None,
        "enable_reasoner": True,
        "max_reasoning_tokens": 0,
    }
    for key in ("temperature", "max_tokens"):
        if overrides and overrides.get(key) is not None:
            config[key] = overrides[key]
    return config
