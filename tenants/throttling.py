"""Per-tenant API rate limit from ``Tenant.api_requests_per_minute``."""

from __future__ import annotations

import math
import time
from typing import Any

from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

WINDOW_SECONDS = 60


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
        cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=WINDOW_SECONDS + 5)
            count = 1
        self._wait = max(1, math.ceil(window_start + WINDOW_SECONDS - now))
        return count <= context.tenant.api_requests_per_minute

    def wait(self) -> float | None:
        return self._wait
