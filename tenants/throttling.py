"""Per-tenant API rate limit from ``Tenant.api_requests_per_minute``."""

from __future__ import annotations

import math
import time
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

WINDOW_SECONDS = 60


def _redis_client(backend: object) -> Any | None:
    """One ``redis.Redis`` per cache backend object (Django's ``RedisCache`` builds a new
    client, with its ~170 response callbacks, on every call), or None off Redis."""
    if not isinstance(backend, RedisCache):
        return None
    client = getattr(backend, "_throttle_redis", None)
    if client is None:
        client = backend._cache.get_client(write=True)
        backend._throttle_redis = client  # type: ignore[attr-defined]
    return client


def count_in_window(key: str, timeout: int) -> int:
    """Add one to the counter ``key`` (created with ``timeout``) and return it: one Redis
    round trip (``SET NX EX`` + ``INCR`` pipelined) on Redis, add + incr elsewhere."""
    backend = caches["default"]  # the backend itself: ``cache`` is a proxy to it
    redis_client = _redis_client(backend)
    if redis_client is not None:
        full_key = backend.make_key(key)
        pipeline = redis_client.pipeline(transaction=False)
        pipeline.set(full_key, 0, ex=timeout, nx=True)
        pipeline.incr(full_key)
        return int(pipeline.execute()[1])
    backend.add(key, 0, timeout=timeout)
    try:
        return backend.incr(key)
    except ValueError:  # expired between add and incr
        backend.set(key, 1, timeout=timeout)
        return 1


class TenantRateThrottle(BaseThrottle):
    """Fixed one-minute windows per tenant, counted atomically in the shared cache (Redis).

    Requests without a tenant (unauthenticated, schema) are not counted; they are refused or
    public anyway. A refused request is a 429 with ``Retry-After`` (seconds to the next window).
    """

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        context = getattr(request, "tenant_context", None)
        if context is None:
            return True
        now = time.time()
        window_start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
        key = f"api-throttle:tenant:{context.tenant.pk}:{window_start}"
        count = count_in_window(key, WINDOW_SECONDS + 5)
        self._wait = max(1, math.ceil(window_start + WINDOW_SECONDS - now))
        return count <= context.tenant.api_requests_per_minute

    def wait(self) -> float | None:
        return self._wait
