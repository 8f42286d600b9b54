"""Celery tasks for tenants: webhook delivery (thin; the rules live in ``tenants.webhooks``)."""

from __future__ import annotations

from celery import shared_task

from tenants import webhooks


@shared_task(bind=True, max_retries=None, acks_late=True)
def deliver_webhook(self, delivery_id: str) -> str:
    """Make one attempt at a webhook delivery; retried with exponential backoff until the
    service marks it succeeded or failed (``WEBHOOK_MAX_ATTEMPTS`` is counted in the log)."""
    outcome = webhooks.webhook_delivery_attempt(delivery_id=delivery_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status
