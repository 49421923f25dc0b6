"""infra.callbacks: which URLs may be called back, and the POST's retries."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from infra.callbacks import ATTEMPTS, HttpCallbacks


@pytest.fixture
def hook() -> Iterator[tuple[str, list[int], list[dict[str, Any]]]]:
    """A local server answering with the statuses queued in `statuses` (200 when empty)."""
    statuses: list[int] = []
    received: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(statuses.pop(0) if statuses else 200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", statuses, received
    server.shutdown()


def test_server_errors_are_retried_then_the_answer_is_kept(hook: Any) -> None:
    url, statuses, received = hook
    statuses.extend([503, 500])
    result = HttpCallbacks(allow_private=True, backoff_s=0.01).deliver(url, {"id": "run-1"})
    assert (result.status_code, result.error) == (200, None)
    assert received == [{"id": "run-1"}] * 3


def test_attempts_are_bounded(hook: Any) -> None:
    url, statuses, received = hook
    statuses.extend([502] * (ATTEMPTS + 2))
    result = HttpCallbacks(allow_private=True, backoff_s=0.01).deliver(url, {"id": "run-2"})
    assert result.status_code is None and result.error == "HTTP 502"
    assert len(received) == ATTEMPTS


def test_a_client_error_is_final_and_kept(hook: Any) -> None:
    url, statuses, received = hook
    statuses.append(404)
    result = HttpCallbacks(allow_private=True, backoff_s=0.01).deliver(url, {"id": "run-3"})
    assert result.status_code == 404 and result.error is not None
    assert len(received) == 1


def test_private_addresses_are_not_called_without_the_setting(hook: Any) -> None:
    url, _, received = hook
    result = HttpCallbacks(backoff_s=0.01).deliver(url, {"id": "run-4"})
    assert result.status_code is None and "not sent" in (result.error or "")
    assert received == []
    assert HttpCallbacks().refusal("https://169.254.169.254/latest") is not None
