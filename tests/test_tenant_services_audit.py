"""Every tenants service records its own audit event, with the actor it was given (a user,
an API key, a command or the system), and never a secret."""

from __future__ import annotations

import json

import pytest
from django.test import RequestFactory

from tenants import services
from tenants.actors import Actor
from tenants.factories import UserFactory, make_api_key
from tenants.models import AuditEvent
from tenants.permissions import TenantContext

pytestmark = pytest.mark.django_db


def only_event(action: str) -> AuditEvent:
    return AuditEvent.objects.get(action=action)


def test_tenant_create_and_update_are_audited():
    tenant = services.tenant_create(
        slug="audited", name="Audited", max_concurrent_sessions=2, actor=Actor.command("cli")
    )
    created = only_event("tenant.created")
    assert (created.tenant, created.target, created.actor_label) == (tenant, "audited", "cli")
    assert created.actor is None and created.details["max_concurrent_sessions"] == 2
    tenant.name = "Renamed"
    services.tenant_update(tenant=tenant, changed=["name"])
    updated = only_event("tenant.updated")
    assert updated.actor_label == "system" and updated.details == {"changed": ["name"]}


def test_membership_set_and_remove_are_audited(tenant):
    admin_user, member = UserFactory(), UserFactory(username="m-1")
    actor = Actor.for_user(admin_user)
    membership = services.membership_set(tenant=tenant, user=member, role="viewer", actor=actor)
    event = only_event("membership.set")
    assert (event.target, event.actor, event.details) == ("m-1", admin_user, {"role": "viewer"})
    services.membership_remove(membership=membership, actor=actor)
    removed = only_event("membership.removed")
    assert removed.target == "m-1" and removed.actor_label == admin_user.get_username()


def test_api_key_create_and_revoke_are_audited_without_the_key(tenant):
    user = UserFactory()
    issued = services.api_key_create(
        tenant=tenant, name="ci", role="developer", actor=Actor.for_user(user)
    )
    created = only_event("api_key.created")
    assert created.target == issued.api_key.prefix and created.actor == user
    assert created.details == {"role": "developer", "name": "ci"}
    assert issued.raw_key not in json.dumps(created.details)
    assert issued.api_key.created_by == user
    by_key = Actor.for_api_key(make_api_key(tenant=tenant, role="admin"))
    services.api_key_revoke(api_key=issued.api_key, actor=by_key)
    services.api_key_revoke(api_key=issued.api_key, actor=by_key)  # nothing to revoke again
    revoked = AuditEvent.objects.filter(action="api_key.revoked")
    assert revoked.count() == 1 and revoked.get().actor_label.startswith("api-key:")


def test_credential_set_and_delete_are_audited_without_the_value(
    tenant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        credential = services.credential_set(
            tenant=tenant, provider="groq", value=" gsk-secret ", actor=Actor.command("seed")
        )
    assert len(callbacks) == 1  # the change event waits for the commit
    event = only_event("credential.set")
    assert (event.target, event.actor_label, event.details) == ("groq", "seed", {"created": True})
    assert "gsk-secret" not in json.dumps(event.details) + event.target
    assert credential.encrypted_value and "gsk-secret" not in credential.encrypted_value
    with pytest.raises(ValueError):
        services.credential_set(tenant=tenant, provider="groq", value="  ")
    services.credential_delete(credential=credential)
    assert only_event("credential.deleted").target == "groq"


def test_actor_constructors(tenant):
    user = UserFactory(username="reqs")
    request = RequestFactory().get("/")
    request.user = user
    assert Actor.from_request(request) == Actor(label="reqs", user=user)
    key = make_api_key(tenant=tenant, name="bot", role="viewer")
    request.tenant_context = TenantContext(tenant=tenant, role="viewer", api_key=key)
    assert Actor.from_request(request).api_key == key
    assert Actor.from_request(request).label == f"api-key:bot ({key.prefix})"
    assert Actor.from_request(request).audit_user is None
    assert Actor.system().label == "system" and Actor.command("x").label == "x"
    from django.contrib.auth.models import AnonymousUser

    assert Actor.for_user(AnonymousUser()) == Actor.system()


def test_membership_moved_to_another_user_leaves_the_old_users_groups(tenant):
    first, second = UserFactory(), UserFactory()
    membership = services.membership_set(tenant=tenant, user=first, role="developer")
    group = f"tenant:{tenant.pk}:developer"
    assert first.groups.filter(name=group).exists()
    membership.user = second
    services.membership_save(membership=membership, actor=Actor.for_user(first))
    assert not first.groups.filter(name=group).exists()
    assert second.groups.filter(name=group).exists()
    assert AuditEvent.objects.filter(action="membership.set").count() == 2


def test_config_change_event_names_the_tenant_pk(agent, django_capture_on_commit_callbacks):
    from agents_config.events import agent_config_changed
    from agents_config.services import agent_set_enabled

    received: list[dict] = []

    def receiver(sender, signal=None, **kwargs):
        received.append(kwargs)

    agent_config_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            agent_set_enabled(agent=agent, enabled=False, actor=Actor.command("ops"))
    finally:
        agent_config_changed.disconnect(receiver)
    assert received[0]["tenant_pk"] == agent.tenant.pk and "tenant_id" not in received[0]
    assert only_event("agent.disabled").actor_label == "ops"


def test_api_key_edit_is_audited(tenant):
    issued = services.api_key_create(tenant=tenant, name="ci", role="developer")
    issued.api_key.name = "ci-renamed"
    services.api_key_update(api_key=issued.api_key, changed=["name"], actor=Actor.command("ops"))
    event = only_event("api_key.updated")
    assert (event.target, event.actor_label, event.details) == (
        issued.api_key.prefix,
        "ops",
        {"changed": ["name"]},
    )
    issued.api_key.refresh_from_db()
    assert issued.api_key.name == "ci-renamed"
