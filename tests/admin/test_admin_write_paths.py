"""The admin writes through the services: each save is validated, audited (with the user as
actor) and sends its change event after commit, exactly as the API's writes do."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.urls import reverse

from agents_config.events import agent_config_changed
from agents_config.test_suites.models import AgentTestCase
from tenants.events import credential_changed
from tenants.models import AuditEvent, Membership, ProviderCredential, Tenant
from tenants.secrets import decrypt_secret, provider_api_key
from tests.test_admin import change_form_data

pytestmark = pytest.mark.django_db


class Received:
    """Collects a signal's sends (kwargs) while connected."""

    def __init__(self, signal):
        self.signal, self.calls = signal, []

    def __call__(self, sender, signal=None, **kwargs):
        self.calls.append(kwargs)

    def __enter__(self):
        self.signal.connect(self, weak=False)
        return self

    def __exit__(self, *exc):
        self.signal.disconnect(self)


def test_credential_save_is_encrypted_audited_and_announced(
    admin_client, superuser, tenant, django_capture_on_commit_callbacks
):
    url = reverse("admin:tenants_providercredential_add")
    with Received(credential_changed) as events, django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url, {"tenant": tenant.pk, "provider": "openai", "value": "sk-admin-typed"}
        )
    assert response.status_code == 302, response.context and response.context["errors"]
    credential = ProviderCredential.objects.get(tenant=tenant, provider="openai")
    assert "sk-admin-typed" not in credential.encrypted_value
    assert decrypt_secret(credential.encrypted_value) == "sk-admin-typed"
    assert provider_api_key(tenant_id=tenant.pk, provider="openai") == "sk-admin-typed"
    audit = AuditEvent.objects.get(tenant=tenant, action="credential.set")
    assert audit.target == "openai" and audit.actor == superuser
    assert audit.actor_label == superuser.get_username()
    assert "sk-admin-typed" not in json.dumps(audit.details)
    assert events.calls == [
        {"tenant_pk": tenant.pk, "tenant_id": tenant.slug, "provider": "openai", "action": "set"}
    ]

    # Replacing the key: same row, new value, audited again; an empty box keeps the key.
    change = reverse("admin:tenants_providercredential_change", args=[credential.pk])
    response = admin_client.post(change, {"value": "sk-replaced"})
    assert response.status_code == 302
    assert ProviderCredential.objects.get().pk == credential.pk
    assert provider_api_key(tenant_id=tenant.pk, provider="openai") == "sk-replaced"
    assert AuditEvent.objects.filter(action="credential.set").count() == 2
    response = admin_client.post(change, {"value": ""})
    assert response.status_code == 302
    assert provider_api_key(tenant_id=tenant.pk, provider="openai") == "sk-replaced"
    assert AuditEvent.objects.filter(action="credential.set").count() == 2

    delete = reverse("admin:tenants_providercredential_delete", args=[credential.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not ProviderCredential.objects.exists()
    assert AuditEvent.objects.filter(action="credential.deleted", target="openai").exists()


def test_credential_form_never_renders_the_value(admin_client, tenant):
    from tenants.services import credential_set

    credential = credential_set(tenant=tenant, provider="deepgram", value="dg-secret-value")
    page = admin_client.get(
        reverse("admin:tenants_providercredential_change", args=[credential.pk])
    )
    assert page.status_code == 200
    assert "dg-secret-value" not in page.content.decode()
    assert credential.encrypted_value not in page.content.decode()


def test_test_case_form_saves_through_the_service(admin_client, superuser, agent):
    data = {
        "agent": agent.pk,
        "name": "  greets  ",
        "user_details": "{}",
        "overrides": "{}",
        "turns": json.dumps([{"user": "Hi", "expect": [{"kind": "valid"}]}]),
    }
    response = admin_client.post(reverse("admin:agents_config_agenttestcase_add"), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    case = AgentTestCase.objects.get(agent=agent)
    assert case.name == "greets"  # the service strips the name
    created = AuditEvent.objects.get(action="agent.test_case_created")
    assert created.actor == superuser and created.details == {"case": "greets"}

    # The same rules as the service: a list where an object belongs is a field error.
    bad = {**data, "user_details": "[1]"}
    change = reverse("admin:agents_config_agenttestcase_change", args=[case.pk])
    response = admin_client.post(change, bad)
    assert response.status_code == 200
    assert "Expected a JSON object." in response.context["adminform"].form.errors["user_details"]

    renamed = {**data, "name": "greets politely"}
    assert admin_client.post(change, renamed).status_code == 302
    case.refresh_from_db()
    assert case.name == "greets politely"
    assert AuditEvent.objects.filter(action="agent.test_case_updated").count() == 1

    delete = reverse("admin:agents_config_agenttestcase_delete", args=[case.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not AgentTestCase.objects.exists()
    assert AuditEvent.objects.filter(action="agent.test_case_deleted").exists()


def test_agent_draft_save_bumps_revision_under_a_lock_and_sends_the_event(
    admin_client, superuser, agent, django_capture_on_commit_callbacks
):
    url = reverse("admin:agents_config_agent_change", args=[agent.pk])
    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with (
        Received(agent_config_changed) as events,
        django_capture_on_commit_callbacks(execute=True),
        connection.execute_wrapper(record),
    ):
        response = admin_client.post(url, change_form_data(agent, enabled=""))
    assert response.status_code == 302, response.context and response.context["errors"]
    agent.refresh_from_db()
    assert agent.revision == 2 and agent.enabled is False
    locks = [i for i, sql in enumerate(statements) if "FOR UPDATE" in sql]
    agent_update = 'UPDATE "agents_config_agent"'
    writes = [i for i, sql in enumerate(statements) if sql.startswith(agent_update)]
    assert locks and writes and locks[0] < writes[0]  # locked before the form wrote the row
    assert [call["action"] for call in events.calls] == ["draft_updated", "disabled"]
    assert events.calls[0]["agent_pk"] == agent.pk
    audit = AuditEvent.objects.get(action="agent.draft_updated")
    assert audit.actor == superuser and audit.details == {"revision": 2}


def test_agent_draft_save_does_not_write_back_a_stale_revision(admin_client, agent):
    """A write between opening the form and saving it is not undone by the form's save."""
    from agents_config.models import Agent

    data = change_form_data(agent)
    Agent.objects.filter(pk=agent.pk).update(revision=5)  # e.g. an API edit meanwhile
    response = admin_client.post(reverse("admin:agents_config_agent_change", args=[agent.pk]), data)
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.revision == 6


def test_tenant_and_membership_admin_write_through_services(admin_client, superuser):
    from tenants.factories import UserFactory

    member = UserFactory(username="new-member")
    data = {
        "slug": "made-in-admin",
        "name": "Made in admin",
        "isolation_level": "session",
        "is_active": "on",
        "time_zone": "UTC",
        "max_concurrent_sessions": "3",
        "max_sessions_per_month": "",
        "max_sessions_per_user_per_month": "",
        "api_requests_per_minute": "600",
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-user": member.pk,
        "memberships-0-role": "developer",
        "api_keys-TOTAL_FORMS": "0",
        "api_keys-INITIAL_FORMS": "0",
        "api_keys-MIN_NUM_FORMS": "0",
        "api_keys-MAX_NUM_FORMS": "1000",
    }
    response = admin_client.post(reverse("admin:tenants_tenant_add"), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    tenant = Tenant.objects.get(slug="made-in-admin")
    assert tenant.max_concurrent_sessions == 3
    assert AuditEvent.objects.get(tenant=tenant, action="tenant.created").actor == superuser
    membership = Membership.objects.get(tenant=tenant, user=member)
    assert member.groups.filter(name=f"tenant:{tenant.pk}:developer").exists()
    set_event = AuditEvent.objects.get(tenant=tenant, action="membership.set")
    assert set_event.target == "new-member" and set_event.details == {"role": "developer"}

    page = reverse("admin:tenants_membership_delete", args=[membership.pk])
    assert admin_client.post(page, {"post": "yes"}).status_code == 302
    assert not member.groups.filter(name__startswith=f"tenant:{tenant.pk}:").exists()
    assert AuditEvent.objects.filter(tenant=tenant, action="membership.removed").exists()


def test_api_key_admin_audits_once(admin_client, superuser, tenant):
    response = admin_client.post(
        reverse("admin:tenants_apikey_add"),
        {"tenant": tenant.pk, "name": "ops", "role": "viewer", "expires_at": ""},
    )
    assert response.status_code == 200  # the page that shows the key once
    created = AuditEvent.objects.get(tenant=tenant, action="api_key.created")
    assert created.actor == superuser
    raw = response.context["raw_key"]
    assert raw not in json.dumps(created.details)
    key = tenant.api_keys.get(name="ops")
    assert key.created_by == superuser
    admin_client.post(
        reverse("admin:tenants_apikey_changelist"),
        {"action": "revoke_selected", "_selected_action": [key.pk]},
    )
    admin_client.post(
        reverse("admin:tenants_apikey_changelist"),
        {"action": "revoke_selected", "_selected_action": [key.pk]},
    )
    assert AuditEvent.objects.filter(tenant=tenant, action="api_key.revoked").count() == 1
