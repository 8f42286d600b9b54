"""Retention: each tenant's settings delete old turns, reports, deliveries and audit events."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from agents_config.factories import make_agent
from sessions_app.factories import SessionFactory, TurnFactory
from sessions_app.models import SessionReport, Turn
from sessions_app.tasks import apply_retention
from tenants.factories import (
    AuditEventFactory,
    TenantFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
)
from tenants.models import AuditEvent, WebhookDelivery

pytestmark = pytest.mark.django_db


def _data(tenant, *, age_days: int):
    old = timezone.now() - dt.timedelta(days=age_days)
    session = SessionFactory(agent=make_agent(tenant=tenant, agent_id=f"a-{age_days}"))
    turn = TurnFactory(session=session)
    Turn.objects.filter(pk=turn.pk).update(created_at=old)
    report = SessionReport.objects.create(session=session, document={})
    SessionReport.objects.filter(pk=report.pk).update(created_at=old)
    endpoint = WebhookEndpointFactory(tenant=tenant)
    sent = WebhookDeliveryFactory(endpoint=endpoint, status="succeeded")
    open_one = WebhookDeliveryFactory(endpoint=endpoint, status="retrying")
    WebhookDelivery.objects.filter(pk__in=[sent.pk, open_one.pk]).update(created_at=old)
    event = AuditEventFactory(tenant=tenant)
    AuditEvent.objects.filter(pk=event.pk).update(created_at=old)
    return turn, report, sent, open_one, event


def test_retention_deletes_only_what_is_older_than_the_tenants_days(tenant):
    tenant.retention_days_turns = 30
    tenant.retention_days_reports = 30
    tenant.retention_days_webhook_deliveries = 30
    tenant.retention_days_audit_events = 30
    tenant.save()
    old = _data(tenant, age_days=40)
    recent = _data(tenant, age_days=10)
    keeps_all = _data(TenantFactory(), age_days=400)  # no retention settings: kept forever

    counts = apply_retention.delay().get()

    assert counts == {"turns": 1, "reports": 1, "webhook_deliveries": 1, "audit_events": 1}
    turn, report, sent, open_one, event = old
    assert not Turn.objects.filter(pk=turn.pk).exists()
    assert not SessionReport.objects.filter(pk=report.pk).exists()
    assert not WebhookDelivery.objects.filter(pk=sent.pk).exists()
    assert WebhookDelivery.objects.filter(pk=open_one.pk).exists()  # still being delivered
    assert not AuditEvent.objects.filter(pk=event.pk).exists()
    for kept in (recent, keeps_all):
        turn, report, sent, open_one, event = kept
        assert Turn.objects.filter(pk=turn.pk).exists()
        assert SessionReport.objects.filter(pk=report.pk).exists()
        assert WebhookDelivery.objects.filter(pk=sent.pk).exists()
        assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_retention_is_scheduled_daily():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="sessions_app.tasks.apply_retention")
    assert (task.interval.every, task.interval.period) == (1, "days")
