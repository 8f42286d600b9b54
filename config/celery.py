"""Celery application.

With ``REDIS_URL`` unset (the quick start) tasks run eagerly in-process, so the platform works
without a broker; production points ``REDIS_URL`` at Redis and runs a worker and beat.
"""

import os

from celery import Celery
from celery.signals import task_prerun

from config.logging import reset_log_context

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("voiceagents")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["sessions_app.telephony"])


@task_prerun.connect
def _fresh_log_context(task_id: str | None = None, **_: object) -> None:
    """Each task starts with its own correlation ids (nothing leaks from the previous one)."""
    reset_log_context(task_id=task_id)
