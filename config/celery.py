"""Celery application.

With ``REDIS_URL`` unset (the quick start) tasks run eagerly in-process, so the platform works
without a broker; production points ``REDIS_URL`` at Redis and runs a worker and beat.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("voiceagents")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
