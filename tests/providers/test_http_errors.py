"""Shared HTTP error mapping: Retry-After parsing and provider error messages."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from core.llm import ModelRequestError, ModelServerError
from infra.providers.http_errors import error_for_status, parse_retry_after, provider_message

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "408", "retry-after": "1"}, 0.408),
        ({"retry-after": "Sun, 01 Jun 2025 12:00:30 GMT"}, 30.0),
        ({"retry-after": "Sun, 01 Jun 2025 11:00:00 GMT"}, 0.0),
        ({"retry-after": "soon"}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(httpx.Headers(headers), now=lambda: NOW) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"error": {"message": "Incorrect API key provided", "type": "x"}}', "Incorrect API key"),
        ('{"type": "error", "error": {"type": "x", "message": "Overloaded"}}', "Overloaded"),
        ('{"error": "model \\"llama9\\" not found, try pulling it first"}', 'model "llama9"'),
        ('{"object": "error", "message": "max_tokens is too large", "code": 400}', "max_tokens"),
        ('{"detail": "Not Found"}', "Not Found"),
        ("<html><body>Bad Gateway</body></html>", "<html><body>Bad Gateway"),
    ],
)
def test_provider_message(body: str, expected: str) -> None:
    assert provider_message(body).startswith(expected)


def test_status_mapping_keeps_status_and_has_no_retry_after_by_default() -> None:
    error = error_for_status("openai", httpx.Response(404, json={"error": {"message": "nope"}}))
    assert isinstance(error, ModelRequestError)
    assert error.status == 404
    assert error.retry_after is None  # type: ignore[attr-defined]
    assert isinstance(error_for_status("anthropic", httpx.Response(529)), ModelServerError)
