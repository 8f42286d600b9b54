"""Prices and budgets written from the admin go through the billing services: each change
is in the tenant's audit log with who made it and the new values."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from sessions_app.models import Budget, ModelPrice
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_budget_create_change_delete_are_audited(client, member_factory, tenant):
    admin_user = member_factory(tenant, "admin")
    client.force_login(admin_user)
    add = reverse("admin:sessions_app_budget_add")
    response = client.post(
        add,
        {
            "tenant": tenant.pk,
            "agent": "",
            "monthly_limit_usd": "25",
            "threshold_percent": 80,
            "session_reserve_usd": "0.05",
            "closing_line": "Goodbye for now.",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    budget = Budget.objects.get(tenant=tenant)
    created = AuditEvent.objects.get(tenant=tenant, action="budget.created")
    assert created.actor == admin_user and created.target == "tenant"
    assert created.details["monthly_limit_usd"] == "25.000000"

    change = reverse("admin:sessions_app_budget_change", args=[budget.pk])
    response = client.post(
        change,
        {
            "tenant": tenant.pk,
            "agent": "",
            "monthly_limit_usd": "40",
            "threshold_percent": 90,
            "session_reserve_usd": "0.05",
            "closing_line": "Goodbye for now.",
        },
    )
    assert response.status_code == 302
    changed = AuditEvent.objects.get(tenant=tenant, action="budget.changed")
    assert changed.details["monthly_limit_usd"] == "40.000000"
    assert changed.details["threshold_percent"] == 90

    delete = reverse("admin:sessions_app_budget_delete", args=[budget.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not Budget.objects.filter(pk=budget.pk).exists()
    assert AuditEvent.objects.filter(tenant=tenant, action="budget.deleted").count() == 1


def test_tenant_price_rows_are_audited(client, member_factory, tenant):
    admin_user = member_factory(tenant, "admin")
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:sessions_app_modelprice_add"),
        {
            "tenant": tenant.pk,
            "provider": "openai",
            "model": "gpt-4o-mini",
            "metric": "prompt_tokens",
            "usd_per_million": "0.12",
            "effective_from": "2026-01-01",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    price = ModelPrice.objects.get(tenant=tenant)
    event = AuditEvent.objects.get(tenant=tenant, action="price.created")
    assert event.actor == admin_user
    assert event.target == "openai:gpt-4o-mini:prompt_tokens"
    assert event.details["usd_per_million"] == "0.120000"

    listing = reverse("admin:sessions_app_modelprice_changelist")
    response = client.post(
        listing, {"action": "delete_selected", "_selected_action": [price.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert not ModelPrice.objects.filter(pk=price.pk).exists()
    assert AuditEvent.objects.filter(tenant=tenant, action="price.deleted").count() == 1


def test_platform_prices_are_logged_with_the_operator(admin_client, caplog):
    caplog.set_level("INFO", logger="sessions_app.billing")
    response = admin_client.post(
        reverse("admin:sessions_app_modelprice_add"),
        {
            "tenant": "",
            "provider": "openai",
            "model": "zeta-model",
            "metric": "completion_tokens",
            "usd_per_million": Decimal("2"),
            "effective_from": "2026-01-01",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert "platform price price.created by root-admin" in caplog.text
    assert ModelPrice.objects.filter(tenant=None, model="zeta-model").exists()
