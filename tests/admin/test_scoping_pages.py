"""Custom admin pages, actions and endpoints are scoped too, and members can still do
their job in their own tenant as their role allows."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from agents_config.models import Agent
from agents_config.selectors import agent_draft_document
from agents_config.test_suites.models import AgentTestCase
from tenants.models import ApiKey, Membership
from tenants.selectors import api_key_from_raw
from tests.admin.conftest import FOREIGN_MARK, page_text
from tests.admin.test_scoping_matrix import assert_no_foreign_text, foreign_snapshot

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("kind", ["admin", "developer", "admin+model-perms"])
def test_agent_pages_of_another_tenant_are_not_reachable(kind, world, make_staff, client):
    client.force_login(make_staff(kind))
    agent = world.foreign["agents_config.Agent"]
    before = foreign_snapshot(world)
    pages = {
        "agents_config_agent_publish": {"bump": "minor"},
        "agents_config_agent_rollback": {"version": world.foreign["agents_config.AgentVersion"].pk},
        "agents_config_agent_duplicate": {"new_agent_id": "zeta-copy"},
        "agents_config_agent_export": {},
        "agents_config_agent_permissions": {"user": "staff-admin", "submit_manage_user": "1"},
        "agents_config_agenttestrun_suite": {"require": "1"},
    }
    for name, data in pages.items():
        page = reverse(f"admin:{name}", args=[agent.pk])
        for response in (client.get(page), client.post(page, data)):
            assert response.status_code in (302, 403, 404), (name, response.status_code)
            assert_no_foreign_text(response)
    assert foreign_snapshot(world) == before


def test_import_refuses_a_foreign_tenant(world, make_staff, client):
    client.force_login(make_staff("admin+model-perms"))
    url = reverse("admin:agents_config_agent_import")
    page = client.get(url)
    assert page.status_code == 200
    assert_no_foreign_text(page)
    document = agent_draft_document(world.home["agents_config.Agent"])
    document["agent_id"] = "imported"
    response = client.post(
        url, {"tenant": world.foreign.tenant.pk, "document_text": json.dumps(document)}
    )
    assert response.status_code == 200 and "tenant" in response.context["form"].errors
    assert not Agent.objects.filter(agent_id="imported").exists()
    response = client.post(
        url, {"tenant": world.home.tenant.pk, "document_text": json.dumps(document)}
    )
    assert response.status_code == 302
    assert Agent.objects.get(agent_id="imported").tenant == world.home.tenant


@pytest.mark.parametrize("kind", ["developer", "viewer"])
def test_creating_agents_needs_the_create_role(kind, world, make_staff, client):
    client.force_login(make_staff(kind))
    agent = world.home["agents_config.Agent"]
    assert client.get(reverse("admin:agents_config_agent_import")).status_code == 403
    duplicate = reverse("admin:agents_config_agent_duplicate", args=[agent.pk])
    assert client.post(duplicate, {"new_agent_id": "copy"}).status_code == 403
    assert client.get(reverse("admin:agents_config_agent_add")).status_code == 403
    assert not Agent.objects.filter(agent_id="copy").exists()


def test_object_permission_pages_need_the_admin_role(world, make_staff, client):
    agent = world.home["agents_config.Agent"]
    page = reverse("admin:agents_config_agent_permissions", args=[agent.pk])
    client.force_login(make_staff("developer"))
    assert client.get(page).status_code == 403  # no granting oneself delete_agent
    client.force_login(make_staff("admin"))
    assert client.get(page).status_code == 200


def test_bulk_actions_skip_foreign_rows_even_among_own(world, make_staff, client):
    client.force_login(make_staff("admin+model-perms"))
    own, foreign = world.home["tenants.ApiKey"], world.foreign["tenants.ApiKey"]
    client.post(
        reverse("admin:tenants_apikey_changelist"),
        {"action": "revoke_selected", "_selected_action": [own.pk, foreign.pk]},
    )
    own.refresh_from_db()
    foreign.refresh_from_db()
    assert own.revoked_at is not None and foreign.revoked_at is None
    session = world.foreign["sessions_app.Session"]
    client.post(
        reverse("admin:sessions_app_session_changelist"),
        {"action": "turn_into_test_case", "_selected_action": [str(session.pk)]},
    )
    assert not AgentTestCase.objects.filter(source_session=session).exists()


def test_user_autocomplete_and_user_admin_are_superuser_only(world, make_staff, client):
    client.force_login(make_staff("admin+model-perms"))
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "tenants", "model_name": "membership", "field_name": "user", "term": ""},
    )
    assert response.status_code == 403
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    index = client.get(reverse("admin:index")).content.decode()
    assert "/admin/auth/user/" not in index and "/admin/tenants/apikey/" in index


def test_tenant_admin_manages_keys_and_members_of_their_tenant(world, make_staff, client):
    user = make_staff("admin")
    client.force_login(user)
    response = client.post(
        reverse("admin:tenants_apikey_add"),
        {"tenant": world.home.tenant.pk, "name": "ci", "role": "developer"},
    )
    assert response.status_code == 200
    assert api_key_from_raw(response.context["raw_key"]) == ApiKey.objects.get(name="ci")
    add_member = reverse("admin:tenants_membership_add")
    page = client.get(add_member).content.decode()
    assert "zeta-member" not in page  # no platform-wide user list
    response = client.post(
        add_member, {"user": "zeta-member", "tenant": world.home.tenant.pk, "role": "viewer"}
    )
    assert response.status_code == 302
    assert Membership.objects.get(user__username="zeta-member", tenant=world.home.tenant)
    tenant_page = client.get(reverse("admin:tenants_tenant_change", args=[world.home.tenant.pk]))
    assert tenant_page.status_code == 200 and "home-member" in tenant_page.content.decode()
    assert 'name="max_concurrent_sessions"' not in tenant_page.content.decode()  # quotas: operators


def test_developer_edits_cases_but_not_tenant_settings(world, make_staff, client):
    client.force_login(make_staff("developer"))
    case = world.home["agents_config.AgentTestCase"]
    response = client.post(
        reverse("admin:agents_config_agenttestcase_change", args=[case.pk]),
        {
            "agent": case.agent_id,
            "name": "renamed",
            "user_details": "{}",
            "overrides": "{}",
            "turns": json.dumps(case.turns),
        },
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.name == "renamed"
    assert client.get(reverse("admin:tenants_apikey_changelist")).status_code == 403
    tenant_page = client.get(reverse("admin:tenants_tenant_change", args=[world.home.tenant.pk]))
    assert "home-member" not in tenant_page.content.decode()  # memberships: admins only


def test_viewer_reads_but_does_not_write(world, make_staff, client):
    client.force_login(make_staff("viewer+model-perms"))
    case = world.home["agents_config.AgentTestCase"]
    change = reverse("admin:agents_config_agenttestcase_change", args=[case.pk])
    assert client.get(change).status_code == 200
    assert client.post(change, {"name": "nope"}).status_code == 403
    assert (
        client.post(
            reverse("admin:agents_config_agenttestcase_delete", args=[case.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    session_page = client.get(
        reverse("admin:sessions_app_session_change", args=[world.home["sessions_app.Session"].pk])
    )
    assert session_page.status_code == 200 and FOREIGN_MARK not in page_text(session_page)


def test_developer_saves_the_agent_form_with_its_schema_rows(world, make_staff, client):
    from tests.test_admin import change_form_data

    client.force_login(make_staff("developer"))
    agent = world.home["agents_config.Agent"]
    url = reverse("admin:agents_config_agent_change", args=[agent.pk])
    page = client.get(url).content.decode()
    assert 'name="llm_config__temperature"' in page and 'name="schema_fields-0-field_name"' in page
    response = client.post(url, change_form_data(agent, llm_config__temperature="0.2"))
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.llm_config["temperature"] == 0.2


def test_removing_members_in_bulk_drops_their_role_groups(world, make_staff, client):
    client.force_login(make_staff("admin"))
    membership = world.home["tenants.Membership"]
    client.post(
        reverse("admin:tenants_membership_changelist"),
        {"action": "delete_selected", "_selected_action": [membership.pk], "post": "yes"},
    )
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert not membership.user.groups.filter(name__startswith="tenant:").exists()
