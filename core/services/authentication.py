"""Who a request is: the tenant its API key opens, or a 401.

Stored keys (core.services.api_keys) are looked up through a short cache, so most requests
cost no read; the cache is what bounds how long a revoked key still opens (its TTL, at
most a minute). Keys given in the configuration (API_KEYS, a local convenience) are
checked first and never expire.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import timedelta

from cachetools import TTLCache, cached

from core.errors import UnauthorizedError
from core.ports import Clock
from core.services.api_keys import ApiKeys

OPEN_TENANT = "default"
"""Everyone's tenant when the API is open and the caller brings no key of its own."""
MAX_CACHE_TTL = timedelta(seconds=60)
MISSING_KEY = "Missing credentials: send 'Authorization: Bearer <key>'."
INVALID_KEY = "Invalid API key."


class Authenticator:
    def __init__(
        self,
        keys: ApiKeys,
        clock: Clock,
        *,
        configured: Mapping[str, str],
        open_access: bool,
        cache_ttl: timedelta = timedelta(seconds=30),
        cache_size: int = 4096,
    ) -> None:
        """`configured`: keys from the configuration, each to its tenant. `open_access`:
        a request without a valid key is served as OPEN_TENANT instead of refused."""
        if cache_ttl > MAX_CACHE_TTL:
            raise ValueError(f"A revoked key must stop working within {MAX_CACHE_TTL}.")
        self._configured = dict(configured)
        self.open_access = open_access
        cache: TTLCache[str, str | None] = TTLCache(
            maxsize=cache_size,
            ttl=cache_ttl.total_seconds(),
            timer=lambda: clock.now().timestamp(),
        )
        # Unknown keys are cached too: a client retrying a bad key costs one read per TTL,
        # and a new key cannot have been tried before it existed.
        self._stored: Callable[[str], str | None] = cached(cache, lock=threading.Lock())(
            keys.tenant_for
        )

    def tenant(self, key: str | None) -> str:
        """The tenant `key` opens; UnauthorizedError when it opens none and the API is
        not open."""
        if key:
            tenant = self._configured.get(key) or self._stored(key)
            if tenant is not None:
                return tenant
        if self.open_access:
            return OPEN_TENANT
        raise UnauthorizedError(INVALID_KEY if key else MISSING_KEY)
