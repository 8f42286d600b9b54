"""Broker queue names and the Celery router, from ``settings.TASK_QUEUES``.

Pure functions of settings, so apps (metrics, process runner) need not import ``config.celery``.
"""

from __future__ import annotations

from typing import Any


def queue_name(kind: str) -> str:
    """The broker queue for a kind of work (``provisioning``, ``webhooks``…), with the prefix."""
    from django.conf import settings

    return f"{settings.CELERY_QUEUE_PREFIX}{kind}"


def worker_queues() -> list[str]:
    """Every queue a task can be routed to (the default queue included), prefixed."""
    from django.conf import settings

    kinds = sorted(set(settings.TASK_QUEUES.values()))
    return [queue_name(kind) for kind in kinds] + [settings.CELERY_TASK_DEFAULT_QUEUE]


def route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **_: Any):
    """Celery router (``task_routes``): a task's queue comes from ``settings.TASK_QUEUES``.

    Read at publish time, so a changed prefix (tests) applies at once; an explicit ``queue=``
    given to ``apply_async`` still wins. Unlisted tasks fall through to the default queue.
    """
    from django.conf import settings

    kind = settings.TASK_QUEUES.get(name)
    return {"queue": queue_name(kind)} if kind else None
