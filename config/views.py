"""Liveness and readiness probes (answered by ``config.middleware.ProbeMiddleware``)."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

PROBE_TIMEOUT_SECONDS = 2.0


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive (no dependencies checked)."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis() -> None:
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=PROBE_TIMEOUT_SECONDS,
        socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()


def _check_broker() -> None:
    """Open (and release) a connection to the Celery broker, without retrying."""
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=PROBE_TIMEOUT_SECONDS)


def readyz(request: HttpRequest) -> JsonResponse:
    """Database, Redis and the Celery broker reachable (those configured); 503 naming what
    failed. Without a broker (quick start, eager tasks) only the database is checked."""
    checks_to_run: dict[str, Callable[[], None]] = {"database": _check_database}
    if settings.REDIS_URL:
        checks_to_run["redis"] = _check_redis
    if not settings.CELERY_BROKER_URL.startswith("memory://"):
        checks_to_run["broker"] = _check_broker
    checks: dict[str, str] = {}
    for name, check in checks_to_run.items():
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            checks[name] = f"error: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )


LOOPBACK = ("127.0.0.1", "::1")


def metrics_allowed(request: HttpRequest) -> bool:
    """With ``METRICS_TOKEN``: the scraper sends ``Authorization: Bearer <token>``. Without
    one, only clients on this host (loopback) may scrape, and not through a proxy: a reverse
    proxy on the same host connects from loopback on behalf of anyone, so a forwarded request
    (``X-Forwarded-For`` / ``Forwarded``) is refused."""
    token = settings.METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(sent.encode(), token.encode())
    proxied = "HTTP_X_FORWARDED_FOR" in request.META or "HTTP_FORWARDED" in request.META
    return not proxied and request.META.get("REMOTE_ADDR", "") in LOOPBACK


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition: django-prometheus (requests, latency, errors, database) and the
    product and task metrics of ``tenants.metrics``, summed over processes in multiprocess
    mode. 404 to callers who may not see it (nothing to discover)."""
    from prometheus_client import CONTENT_TYPE_LATEST

    from tenants.metrics import metrics_text

    if not metrics_allowed(request):
        return HttpResponse(status=404)
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)


PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": healthz,
    "/readyz": readyz,
    "/metrics": metrics,
}
