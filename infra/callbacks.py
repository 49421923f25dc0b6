"""core.ports.Callbacks over httpx: where a finished run may be reported, and the POST.

A callback URL comes from the caller, so it must not let the service reach inside its own
network: it must be https, and every address its host resolves to must be public (checked
when the run is accepted and again just before the POST, against DNS rebinding). The
`allow_private` setting lifts both rules, for tests and local development.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from core.ports import CallbackResult

logger = logging.getLogger(__name__)

ATTEMPTS = 3
BACKOFF_S = 0.5
TIMEOUT_S = 10.0


class HttpCallbacks:
    def __init__(
        self,
        *,
        allow_private: bool = False,
        timeout_s: float = TIMEOUT_S,
        backoff_s: float = BACKOFF_S,
    ) -> None:
        self._allow_private = allow_private
        self._timeout_s = timeout_s
        self._backoff_s = backoff_s

    def refusal(self, url: str) -> str | None:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            return f"{url!r} is not an http(s) URL."
        if self._allow_private:
            return None
        if parts.scheme != "https":
            return "only https URLs are called back."
        try:
            infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            return f"host {parts.hostname!r} does not resolve."
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]))
            if not address.is_global:
                return (
                    f"host {parts.hostname!r} resolves to {address}, a private, loopback or "
                    "link-local address."
                )
        return None

    def deliver(self, url: str, payload: dict[str, Any]) -> CallbackResult:
        reason = self.refusal(url)
        if reason is not None:
            return CallbackResult(None, f"not sent: {reason}")
        import httpx  # only a run with a callback_url needs it: kept off the cold start

        error = "not sent"
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(self._backoff_s * 2 ** (attempt - 1))
            try:
                answer = httpx.post(url, json=payload, timeout=self._timeout_s)
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
                continue
            if answer.status_code < 500 and answer.status_code != 429:
                ok = answer.is_success
                return CallbackResult(answer.status_code, None if ok else answer.text[:500])
            error = f"HTTP {answer.status_code}"
        logger.warning("callback to %s failed after %d attempts: %s", url, ATTEMPTS, error)
        return CallbackResult(None, error)
