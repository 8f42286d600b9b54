"""Webhook admin: the secret shown once, the delivery log, re-send, the auto-disabled notice."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sessions_app.webhooks import services as webhooks
from tenants.models import AuditEvent, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def test_creating_an_endpoint_shows_the_secret_once(
    admin_client, tenant, webhook_settings, receiver
):
    response = admin_client.post(
        reverse("admin:tenants_webhookendpoint_add"),
        {
            "tenant": tenant.pk,
            "agent": "",
            "url": receiver.url,
            "events": ["session.ended", "agent.published"],
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    endpoint = WebhookEndpoint.objects.get()
    secret = endpoint.get_secret()
    assert secret in response.content.decode()
    assert "shown only once" in response.content.decode()
    done = reverse("admin:tenants_webhookendpoint_change", args=[endpoint.pk])
    assert f'href="{done}"' in response.content.decode()  # not .../None/change/
    assert endpoint.events == ["session.ended", "agent.published"]
    assert secret not in endpoint.encrypted_secret
    assert AuditEvent.objects.filter(action="webhook.created").exists()

    page = admin_client.get(reverse("admin:tenants_webhookendpoint_change", args=[endpoint.pk]))
    assert page.status_code == 200
    assert secret not in page.content.decode()


def test_a_private_url_is_refused_in_the_admin_form(admin_client, tenant, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    response = admin_client.post(
        reverse("admin:tenants_webhookendpoint_add"),
        {"tenant": tenant.pk, "url": "http://127.0.0.1:9/x", "events": ["session.ended"]},
    )
    assert response.status_code == 200
    assert "private, loopback or reserved" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_delivery_log_and_resend_action(admin_client, tenant, make_endpoint, receiver):
    endpoint = make_endpoint(tenant, ["session.ended"])
    receiver.state.responses = [500]
    (delivery,) = webhooks.webhook_event_emit(
        tenant_id=tenant.pk, event="session.ended", data={"session_id": "s-1"}
    )
    webhooks.webhook_delivery_attempt(delivery_id=str(delivery.pk))

    changelist = admin_client.get(reverse("admin:tenants_webhookdelivery_changelist"))
    assert changelist.status_code == 200
    assert "retrying" in changelist.content.decode().lower()
    detail = admin_client.get(reverse("admin:tenants_webhookdelivery_change", args=[delivery.pk]))
    assert detail.status_code == 200
    assert "HTTP 500" in detail.content.decode() and "s-1" in detail.content.decode()
    endpoint_page = admin_client.get(
        reverse("admin:tenants_webhookendpoint_change", args=[endpoint.pk])
    )
    assert "Full delivery log" in endpoint_page.content.decode()

    response = admin_client.post(
        reverse("admin:tenants_webhookdelivery_changelist"),
        {"action": "resend_selected", "_selected_action": [str(delivery.pk)]},
        follow=True,
    )
    assert "Queued 1 re-send" in response.content.decode()
    resend = WebhookDelivery.objects.get(resent_from=delivery)
    assert resend.payload == delivery.payload
    # Outside a transaction test the on-commit enqueue does not run; send it as the task would.
    webhooks.webhook_delivery_attempt(delivery_id=str(resend.pk))
    resend.refresh_from_db()
    assert resend.status == "succeeded"
    assert receiver.requests[-1].body == receiver.requests[0].body


def test_the_auto_disabled_notice_and_re_enabling(
    admin_client, tenant, make_endpoint, receiver, webhook_settings
):
    webhook_settings.WEBHOOK_MAX_ATTEMPTS = 1
    webhook_settings.WEBHOOK_DISABLE_AFTER_FAILURES = 1
    endpoint = make_endpoint(tenant, ["session.ended"])
    receiver.state.default_status = 500
    (delivery,) = webhooks.webhook_event_emit(tenant_id=tenant.pk, event="session.ended", data={})
    webhooks.webhook_delivery_attempt(delivery_id=str(delivery.pk))
    endpoint.refresh_from_db()
    assert not endpoint.is_active

    changelist = admin_client.get(reverse("admin:tenants_webhookendpoint_changelist"))
    assert "Auto-disabled" in changelist.content.decode()
    change_url = reverse("admin:tenants_webhookendpoint_change", args=[endpoint.pk])
    page = admin_client.get(change_url).content.decode()
    assert "Disabled automatically after 1 failed deliveries" in page
    assert "failure streak starts over" in page

    response = admin_client.post(
        reverse("admin:tenants_webhookdelivery_changelist"),
        {"action": "resend_selected", "_selected_action": [str(delivery.pk)]},
        follow=True,
    )
    assert "disabled endpoints" in response.content.decode()

    response = admin_client.post(
        reverse("admin:tenants_webhookendpoint_changelist"),
        {"action": "enable_selected", "_selected_action": [endpoint.pk]},
        follow=True,
    )
    assert "Re-enabled 1 endpoint" in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.failure_streak == 0 and endpoint.disabled_at is None


def test_ticking_is_active_on_the_change_form_re_enables(
    admin_client, tenant, make_endpoint, receiver
):
    endpoint = make_endpoint(tenant, ["session.ended"])
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False, failure_streak=20, disabled_reason="Disabled automatically after 20"
    )
    response = admin_client.post(
        reverse("admin:tenants_webhookendpoint_change", args=[endpoint.pk]),
        {"agent": "", "url": endpoint.url, "events": ["session.ended"], "is_active": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.failure_streak == 0 and endpoint.disabled_reason == ""
    assert AuditEvent.objects.filter(action="webhook.enabled").exists()


def test_editing_an_endpoint_in_the_admin_goes_through_the_service(
    admin_client, tenant, make_endpoint
):
    endpoint = make_endpoint(tenant, ["session.ended"])
    response = admin_client.post(
        reverse("admin:tenants_webhookendpoint_change", args=[endpoint.pk]),
        {"agent": "", "url": endpoint.url, "events": ["session.ended", "session.failed"]},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    endpoint.refresh_from_db()
    assert endpoint.events == ["session.ended", "session.failed"] and not endpoint.is_active
    event = AuditEvent.objects.get(action="webhook.updated")
    assert event.target == endpoint.url
    assert event.actor is not None and event.actor_label == event.actor.get_username()
    assert set(event.details["changed"]) >= {"events", "is_active"}
