"""Per-tenant API rate limit from ``Tenant.api_requests_per_minute``."""

from __future__ import annotations

import math
import time
from typing import Any

from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

WINDOW_SECONDS = 60


def count_in_window(key: str, timeout: int) -> int:
    """Add one to the counter ``key`` (created with ``timeout``) and return it: one Redis
    round trip (``SET NX EX`` + ``INCR`` pipelined) on Redis, add + incr elsewhere."""
    redis_client = getattr(getattr(cache, "_cache", None), "get_client", None)
    if isinstance(cache, RedisCache) and redis_client is not None:
        full_key = cache.make_and_validate_key(key)
        pipeline = redis_client(full_key, write=True).pipeline(transaction=False)
        pipeline.set(full_key, 0, ex=timeout, nx=True)
        pipeline.incr(full_key)
        return int(pipeline.execute()[1])
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
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
