"""Product and task metrics (prometheus-client), defined once and imported where they happen.

Under gunicorn (several processes) and with Celery workers on the same host, set
``PROMETHEUS_MULTIPROC_DIR``: prometheus-client then writes each process's values to files in
that directory and ``/metrics`` (``config.views.metrics``) adds them up. Without it, each
process serves its own values.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

SESSION_TRANSITIONS = Counter(
    "voiceagents_session_transitions_total",
    "Sessions entering a status (created, provisioned, active, ended, failed, expired).",
    ["status"],
)
TURNS = Counter("voiceagents_turns_total", "Conversation turns recorded.")
FIRST_AUDIO_SECONDS = Histogram(
    "voiceagents_first_audio_seconds",
    "Time from the end of the user's speech to the first spoken text of the answer.",
    buckets=(0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0),
)
PROVIDER_ERRORS = Counter(
    "voiceagents_provider_errors_total",
    "Provider errors during a turn (kind: llm, tts).",
    ["kind"],
)
QUOTA_REJECTIONS = Counter(
    "voiceagents_quota_rejections_total", "Session starts refused by a quota.", ["quota"]
)
WEBHOOK_FAILURES = Counter(
    "voiceagents_webhook_failures_total", "Webhook delivery attempts that failed."
)
TASK_OUTCOMES = Counter(
    "voiceagents_celery_tasks_total",
    "Celery task runs by outcome (success, failure, retry, revoked).",
    ["task", "outcome"],
)


class QueueDepthCollector:
    """``voiceagents_celery_queue_depth{queue}``: messages waiting in each Celery queue on the
    Redis broker, read at scrape time (no process has to keep it up to date)."""

    def collect(self) -> Any:
        from django.conf import settings

        from tenants.platform.queues import worker_queues

        family = GaugeMetricFamily(
            "voiceagents_celery_queue_depth",
            "Messages waiting in a Celery queue.",
            labels=["queue"],
        )
        broker = getattr(settings, "CELERY_BROKER_URL", "") or ""
        if broker.startswith("redis"):
            import redis

            try:
                client = redis.Redis.from_url(broker, socket_timeout=1)
                for queue in worker_queues():
                    family.add_metric([queue], float(client.llen(queue)))
            except redis.RedisError:
                pass  # the broker-outage probe reports it; a scrape must not fail
        yield family


def metrics_text() -> bytes:
    """The exposition text: every process's values (multiprocess mode) or this process's."""
    from prometheus_client import REGISTRY, multiprocess

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    text = generate_latest(registry)
    queues = CollectorRegistry()
    queues.register(QueueDepthCollector())
    return text + generate_latest(queues)
