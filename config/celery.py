"""Celery application.

With ``REDIS_URL`` unset (the quick start) tasks run eagerly in-process, so the platform works
without a broker; production points ``REDIS_URL`` at Redis and runs workers and one beat.
Tasks are routed to one queue per kind of work (``settings.TASK_QUEUES``).
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import (
    setup_logging,
    task_failure,
    task_prerun,
    task_retry,
    task_revoked,
    task_success,
    worker_init,
    worker_process_shutdown,
)

from tenants.metrics import TASK_OUTCOMES
from tenants.platform.logging import reset_log_context
from tenants.platform.queues import queue_name, route_task, worker_queues

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("voiceagents")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(
    ["agents_config.test_suites", "sessions_app.telephony", "sessions_app.webhooks"]
)

__all__ = ["app", "queue_name", "route_task", "worker_queues"]


def _task_name(sender: Any) -> str:
    return str(getattr(sender, "name", sender) or "unknown")


@task_success.connect
def _count_success(sender: Any = None, **_: object) -> None:
    TASK_OUTCOMES.labels(task=_task_name(sender), outcome="success").inc()


@task_failure.connect
def _count_failure(sender: Any = None, **_: object) -> None:
    TASK_OUTCOMES.labels(task=_task_name(sender), outcome="failure").inc()


@task_retry.connect
def _count_retry(sender: Any = None, request: Any = None, **_: object) -> None:
    name = getattr(request, "task", None) or _task_name(sender)
    TASK_OUTCOMES.labels(task=str(name), outcome="retry").inc()


@task_revoked.connect
def _count_revoked(sender: Any = None, request: Any = None, **_: object) -> None:
    name = getattr(request, "task", None) or _task_name(sender)
    TASK_OUTCOMES.labels(task=str(name), outcome="revoked").inc()


@setup_logging.connect
def _django_logging(**_: object) -> None:
    """Celery logs through Django's ``LOGGING`` (so ``LOG_FORMAT=json`` and the correlation ids
    apply to workers and beat too) instead of configuring its own handlers."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@task_prerun.connect
def _fresh_log_context(task_id: str | None = None, **_: object) -> None:
    """Each task starts with its own correlation ids (nothing leaks from the previous one)."""
    reset_log_context(task_id=task_id)


@worker_init.connect
def _serve_worker_metrics(**_: object) -> None:
    """With ``CELERY_METRICS_PORT``, each Celery worker serves its own Prometheus metrics
    (task outcomes, and anything else its processes count) on that port, so workers on other
    hosts than the web are scraped too. Started once, in the worker's main process, before the
    pool forks: pool processes write their values to ``PROMETHEUS_MULTIPROC_DIR`` (the process
    entry creates one per worker) and this server adds them up at each scrape."""
    start_worker_metrics_server()


def start_worker_metrics_server() -> Any:
    """The metrics HTTP server for this worker (None when ``CELERY_METRICS_PORT`` is unset
    or the port is taken: the worker runs on, and says so in its log)."""
    import logging

    from django.conf import settings
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

    port = settings.CELERY_METRICS_PORT
    if not port:
        return None
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    try:
        server, _thread = start_http_server(
            port, addr=settings.CELERY_METRICS_HOST, registry=registry
        )
    except OSError as exc:
        logging.getLogger(__name__).error("Celery metrics: cannot listen on port %s: %s", port, exc)
        return None
    logging.getLogger(__name__).info(
        "Celery metrics on http://%s:%s/metrics", settings.CELERY_METRICS_HOST, port
    )
    return server


@worker_process_shutdown.connect
def _forget_pool_process(pid: int | None = None, **_: object) -> None:
    """A pool process that exits (recycled after ``--max-tasks-per-child``) leaves its counter
    files for the sum; only its live gauges are dropped."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
