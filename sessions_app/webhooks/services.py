"""Signed webhooks: URL safety, signing, payloads, and the delivery service.

Every delivery is a JSON POST with two headers::

    X-Webhook-Timestamp: <unix seconds>
    X-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>

Receivers recompute the HMAC over the raw body and reject timestamps outside a tolerance
window (replays); :func:`verify_signature` is a reference implementation.

Deliveries are rows (``WebhookDelivery``, the log) created after the triggering transaction
commits and sent by the ``sessions_app.webhooks.tasks.deliver_webhook`` Celery task (registered
under its old name ``tenants.tasks.deliver_webhook``), which retries with exponential backoff.
URLs go through the outbound-URL policy (``tenants.outbound``): checked when an endpoint is
saved and again, on the connection itself, at delivery time. Redirects are not followed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from tenants import outbound
from tenants.actors import Actor
from tenants.models import (
    Tenant,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)
from tenants.outbound import OutboundURLRefused
from tenants.services import audit_record

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Webhook-Timestamp"
SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_SECONDS = 300
USER_AGENT = "VoiceAgentsPlatform-Webhooks/1"
# What is kept of a failing response body in the log.
ERROR_EXCERPT_CHARS = 500

# Session status -> webhook event ("active" means the agent joined the room).
SESSION_STATUS_EVENTS: dict[str, str] = {
    "active": WebhookEvent.SESSION_STARTED,
    "ended": WebhookEvent.SESSION_ENDED,
    "failed": WebhookEvent.SESSION_FAILED,
}
# agent_config_changed actions that put a new version live.
PUBLISH_ACTIONS = ("published", "rollback")


# --- Signing ---


def sign_payload(secret: str, timestamp: int | str, body: bytes | str) -> str:
    """The ``X-Signature`` value for ``body`` sent at ``timestamp``."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    message = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str,
    timestamp: int | str,
    body: bytes | str,
    signature: str,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True only if ``signature`` matches and ``timestamp`` is within ``tolerance`` seconds
    of ``now`` (either side), so a captured request cannot be replayed later."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        return False
    expected = sign_payload(secret, sent_at, body)
    return hmac.compare_digest(expected, signature or "")


def generate_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


# --- URL safety (the policy lives in ``tenants.outbound``) ---

# Kept for callers and tests that name the webhook flavour of the policy error.
UnsafeWebhookUrl = OutboundURLRefused


def webhook_url_check(url: str) -> None:
    """Raise ``UnsafeWebhookUrl`` unless ``url`` passes the outbound-URL policy (the
    save-time check; delivery checks the connection again)."""
    outbound.check_url(url)


# --- Sending ---


@dataclass(frozen=True)
class SendResult:
    ok: bool
    status_code: int | None = None
    error: str = ""
    permanent: bool = False  # retrying cannot help (refused URL)


def payload_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed) for ``payload``."""
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode("utf-8")


def webhook_send(
    *, url: str, secret: str, body: bytes, headers: dict[str, str] | None = None
) -> SendResult:
    """POST ``body`` signed with ``secret``; success means a 2xx answer (redirects are not
    followed). Never raises for network errors: they come back as a failed result."""
    try:
        connection = outbound.http_connection(url, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    except OutboundURLRefused as exc:
        return SendResult(ok=False, error=str(exc), permanent=True)
    parts = urlsplit(url.strip())
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    timestamp = int(time.time())
    request_headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign_payload(secret, timestamp, body),
        **(headers or {}),
    }
    try:
        connection.request("POST", path, body=body, headers=request_headers)
        response = connection.getresponse()
        excerpt = response.read(ERROR_EXCERPT_CHARS).decode("utf-8", errors="replace")
    except OutboundURLRefused as exc:
        return SendResult(ok=False, error=str(exc), permanent=True)
    except TimeoutError:
        return SendResult(ok=False, error=f"timed out after {settings.WEBHOOK_TIMEOUT_SECONDS} s")
    except (OSError, http.client.HTTPException) as exc:
        return SendResult(ok=False, error=f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return SendResult(ok=True, status_code=response.status)
    error = f"HTTP {response.status}"
    if 300 <= response.status < 400:
        error += f" (redirect to {response.getheader('Location', '?')} not followed)"
    elif excerpt.strip():
        error += f": {excerpt.strip()}"
    return SendResult(ok=False, status_code=response.status, error=error)


# --- Creating deliveries ---


def build_payload(
    *, delivery_id: str, event: str, tenant: Tenant, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": delivery_id,
        "event": event,
        "created_at": timezone.now().isoformat(),
        "tenant": tenant.slug,
        "data": data,
    }


def webhook_endpoints_for_event(
    *, tenant_id: int, event: str, agent_id: str | None
) -> list[WebhookEndpoint]:
    """Active endpoints of the tenant subscribed to ``event`` (for all agents or this one)."""
    agent_filter = Q(agent__isnull=True)
    if agent_id:
        agent_filter |= Q(agent__agent_id=agent_id)
    endpoints = (
        WebhookEndpoint.objects.filter(tenant_id=tenant_id, is_active=True)
        .filter(agent_filter)
        .select_related("tenant")
        .order_by("pk")
    )
    # Filtered here rather than with a JSON lookup, which SQLite (the quick start) lacks.
    return [endpoint for endpoint in endpoints if event in endpoint.events]


def _enqueue(delivery_ids: list[str]) -> None:
    from sessions_app.webhooks.tasks import deliver_webhook

    def send() -> None:
        for delivery_id in delivery_ids:
            deliver_webhook.delay(delivery_id)

    # robust: with the broker down the rows stay pending (logged), the caller's change stands.
    transaction.on_commit(send, robust=True)


def webhook_event_emit(
    *, tenant_id: int, event: str, data: dict[str, Any], agent_id: str | None = None
) -> list[WebhookDelivery]:
    """Create one delivery per subscribed endpoint and enqueue them after commit."""
    endpoints = webhook_endpoints_for_event(tenant_id=tenant_id, event=event, agent_id=agent_id)
    if not endpoints:
        return []
    deliveries = []
    with transaction.atomic():
        for endpoint in endpoints:
            delivery = WebhookDelivery(endpoint=endpoint, event=event)
            delivery.payload = build_payload(
                delivery_id=str(delivery.id), event=event, tenant=endpoint.tenant, data=data
            )
            delivery.save()
            deliveries.append(delivery)
        _enqueue([str(d.id) for d in deliveries])
    return deliveries


def webhook_delivery_resend(
    *, delivery: WebhookDelivery, actor: Actor | None = None
) -> WebhookDelivery | None:
    """Send the same body again as a new delivery (the log keeps the original).

    Returns None when the endpoint is disabled. The body keeps its ``id``, so a receiver can
    tell a re-send from a new event.
    """
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_related("tenant").get(pk=delivery.endpoint_id)
        if not endpoint.is_active:
            return None
        resend = WebhookDelivery.objects.create(
            endpoint=endpoint, event=delivery.event, payload=delivery.payload, resent_from=delivery
        )
        audit_record(
            tenant=endpoint.tenant,
            action="webhook.resent",
            target=endpoint.url,
            actor=actor,
            details={"delivery": str(delivery.pk), "resend": str(resend.pk)},
        )
        _enqueue([str(resend.pk)])
    return resend


# --- Endpoints ---


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown to the caller once, stored only encrypted


def webhook_endpoint_create(
    *,
    tenant: Tenant,
    url: str,
    events: list[str],
    agent: Any = None,
    is_active: bool = True,
    actor: Actor | None = None,
) -> CreatedEndpoint:
    """Validate (URL safety included) and create an endpoint with a fresh secret."""
    secret = generate_secret()
    endpoint = WebhookEndpoint(
        tenant=tenant, agent=agent, url=url.strip(), events=list(events), is_active=is_active
    )
    endpoint.set_secret(secret)
    endpoint.full_clean()
    with transaction.atomic():
        endpoint.save()
        audit_record(
            tenant=tenant,
            action="webhook.created",
            target=endpoint.url,
            actor=actor,
            details={"events": endpoint.events, "agent": agent.agent_id if agent else None},
        )
    return CreatedEndpoint(endpoint=endpoint, secret=secret)


def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, changed: list[str], actor: Actor | None = None
) -> WebhookEndpoint:
    """Save an edited endpoint (validated by the caller's form: ``full_clean`` checks the URL
    policy); turning it on again goes through :func:`webhook_endpoint_enable`. Audited."""
    with transaction.atomic():
        endpoint.save()
        if "is_active" in changed and endpoint.is_active:
            return webhook_endpoint_enable(endpoint=endpoint, actor=actor)
        audit_record(
            tenant=endpoint.tenant,
            action="webhook.updated",
            target=endpoint.url,
            actor=actor,
            details={"changed": list(changed)},
        )
    return endpoint


def webhook_endpoint_enable(
    *, endpoint: WebhookEndpoint, actor: Actor | None = None
) -> WebhookEndpoint:
    """Activate the endpoint and forget its failure streak and disabled notice."""
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            is_active=True, failure_streak=0, disabled_at=None, disabled_reason=""
        )
        audit_record(
            tenant=endpoint.tenant, action="webhook.enabled", target=endpoint.url, actor=actor
        )
    endpoint.refresh_from_db()
    return endpoint


def _endpoint_record_failure(endpoint_id: int, error: str) -> None:
    """Count a failed delivery; past the limit, disable the endpoint and leave a trace."""
    from tenants.metrics import WEBHOOK_FAILURES

    WEBHOOK_FAILURES.inc()
    with transaction.atomic():
        endpoint = (
            WebhookEndpoint.objects.select_for_update().select_related("tenant").get(pk=endpoint_id)
        )
        endpoint.failure_streak += 1
        fields = ["failure_streak", "updated_at"]
        limit = settings.WEBHOOK_DISABLE_AFTER_FAILURES
        if endpoint.is_active and endpoint.failure_streak >= limit:
            endpoint.is_active = False
            endpoint.disabled_at = timezone.now()
            endpoint.disabled_reason = (
                f"Disabled automatically after {endpoint.failure_streak} failed deliveries "
                f"in a row. Last error: {error}"
            )[:2000]
            fields += ["is_active", "disabled_at", "disabled_reason"]
            audit_record(
                tenant=endpoint.tenant,
                action="webhook.auto_disabled",
                target=endpoint.url,
                details={"failure_streak": endpoint.failure_streak, "last_error": error[:500]},
            )
            logger.warning("webhook endpoint %s disabled: %s", endpoint.pk, error)
        endpoint.save(update_fields=fields)


# --- Attempts ---


@dataclass(frozen=True)
class AttemptOutcome:
    status: str  # "succeeded", "retrying", "failed" or "skipped"
    retry_in: float | None = None  # seconds until the next try when retrying


def retry_delay(attempts: int) -> float:
    """Exponential backoff: base, 2×base, 4×base… after the 1st, 2nd, 3rd… failed attempt."""
    return settings.WEBHOOK_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0))


def webhook_delivery_attempt(*, delivery_id: str) -> AttemptOutcome:
    """Make one attempt at an open delivery and record it in the log.

    The attempt is claimed atomically (``attempts`` is bumped only from the value read), so a
    redelivered task message cannot send twice. A 2xx ends the delivery and resets the
    endpoint's failure streak; otherwise it is retried until ``WEBHOOK_MAX_ATTEMPTS`` and then
    counted as a failure of the endpoint.
    """
    open_statuses = (WebhookDeliveryStatus.PENDING, WebhookDeliveryStatus.RETRYING)
    delivery = (
        WebhookDelivery.objects.select_related("endpoint")
        .filter(pk=delivery_id, status__in=open_statuses)
        .first()
    )
    if delivery is None:
        return AttemptOutcome("skipped")
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        WebhookDelivery.objects.filter(pk=delivery.pk, status__in=open_statuses).update(
            status=WebhookDeliveryStatus.FAILED,
            last_error="endpoint disabled",
            next_attempt_at=None,
        )
        return AttemptOutcome("skipped")
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk, status__in=open_statuses, attempts=delivery.attempts
    ).update(attempts=F("attempts") + 1, next_attempt_at=None)
    if not claimed:
        return AttemptOutcome("skipped")
    attempts = delivery.attempts + 1

    result = webhook_send(
        url=endpoint.url,
        secret=endpoint.get_secret(),
        body=payload_body(delivery.payload),
        headers={"X-Webhook-Id": str(delivery.pk), "X-Webhook-Event": delivery.event},
    )
    row = WebhookDelivery.objects.filter(pk=delivery.pk)
    if result.ok:
        row.update(
            status=WebhookDeliveryStatus.SUCCEEDED,
            last_response_code=result.status_code,
            last_error="",
            delivered_at=timezone.now(),
        )
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failure_streak__gt=0).update(
            failure_streak=0
        )
        return AttemptOutcome("succeeded")

    logger.info("webhook delivery %s attempt %s failed: %s", delivery.pk, attempts, result.error)
    if not result.permanent and attempts < settings.WEBHOOK_MAX_ATTEMPTS:
        delay = retry_delay(attempts)
        row.update(
            status=WebhookDeliveryStatus.RETRYING,
            last_response_code=result.status_code,
            last_error=result.error,
            next_attempt_at=timezone.now() + dt.timedelta(seconds=delay),
        )
        return AttemptOutcome("retrying", retry_in=delay)
    row.update(
        status=WebhookDeliveryStatus.FAILED,
        last_response_code=result.status_code,
        last_error=result.error,
    )
    _endpoint_record_failure(endpoint.pk, result.error)
    return AttemptOutcome("failed")


# --- Signal receivers (connected in ``TenantsConfig.ready``; they run after commit) ---
