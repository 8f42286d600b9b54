"""Celery application.

With ``REDIS_URL`` unset (the quick start) tasks run eagerly in-process, so the platform works
without a broker; production points ``REDIS_URL`` at Redis and runs workers and one beat.
Tasks are routed to one queue per kind of work (``settings.TASK_QUEUES``).
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_prerun

from config.logging import reset_log_context

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("voiceagents")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["sessions_app.telephony"])


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


@task_prerun.connect
def _fresh_log_context(task_id: str | None = None, **_: object) -> None:
    """Each task starts with its own correlation ids (nothing leaks from the previous one)."""
    reset_log_context(task_id=task_id)
