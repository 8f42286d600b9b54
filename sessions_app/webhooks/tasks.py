"""Webhook delivery task (thin; the rules live in ``sessions_app.webhooks.services``)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from sessions_app.webhooks import services as webhooks


# Registered under the name it had in ``tenants.tasks``: queued messages still route.
@shared_task(name="tenants.tasks.deliver_webhook", bind=True, max_retries=None, acks_late=True)
def deliver_webhook(self, delivery_id: str) -> str:
    """Make one attempt at a webhook delivery; retried with exponential backoff until the
    service marks it succeeded or failed (``WEBHOOK_MAX_ATTEMPTS`` is counted in the log)."""
    outcome = webhooks.webhook_delivery_attempt(delivery_id=delivery_id)
    if outcome.retry_in is not None:
        if self.request.is_eager and not settings.REDIS_URL:
            # Quick start without a broker: retrying inline would hold the request that
            # triggered the event for minutes. The log shows the delivery; re-send it there.
            return outcome.status
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status
