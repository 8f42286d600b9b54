"""The admin dashboard: pages render, forms validate through the contracts, actions work."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from agents_config import services
from agents_config.forms import AgentAdminForm
from agents_config.models import Agent, AgentVersion
from agents_config.selectors import agent_draft_document
from sessions_app.factories import SessionFactory, TurnFactory
from tenants.models import ApiKey
from tenants.selectors import api_key_from_raw

pytestmark = pytest.mark.django_db


def change_form_data(agent: Agent, **section_overrides: object) -> dict[str, object]:
    """POST data equivalent to saving the agent's change form unchanged (plus overrides)."""
    form = AgentAdminForm(instance=agent)
    data: dict[str, object] = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if name == "tenant":
            value = agent.tenant_id
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        if value is None:
            value = ""
        elif hasattr(field, "prepare_value") and not isinstance(value, str):
            value = field.prepare_value(value)
        data[name] = value
    fields = list(agent.schema_fields.all())
    prefix = "schema_fields"
    data.update(
        {
            f"{prefix}-TOTAL_FORMS": len(fields),
            f"{prefix}-INITIAL_FORMS": len(fields),
            f"{prefix}-MIN_NUM_FORMS": 0,
            f"{prefix}-MAX_NUM_FORMS": 1000,
        }
    )
    for i, f in enumerate(fields):
        row = {
            "id": f.pk,
            "agent": agent.pk,
            "position": f.position,
            "field_name": f.field_name,
            "field_type": f.field_type,
            "description": f.description,
            "default": json.dumps(f.default),
            "constraints": json.dumps(f.constraints),
        }
        for flag in ("required", "spoken", "tts_instructions", "hidden"):
            if getattr(f, flag):
                row[flag] = "on"
        data.update({f"{prefix}-{i}-{k}": v for k, v in row.items()})
    data.update(section_overrides)
    return data


def test_admin_pages_render(admin_client, agent):
    version = services.agent_publish(agent=agent)
    session = SessionFactory(agent=agent)
    TurnFactory(session=session)
    urls = [
        reverse("admin:index"),
        reverse("admin:agents_config_agent_changelist"),
        reverse("admin:agents_config_agent_changelist") + "?enabled__exact=1&q=visa",
        reverse("admin:agents_config_agent_add"),
        reverse("admin:agents_config_agent_change", args=[agent.pk]),
        reverse("admin:agents_config_agent_permissions", args=[agent.pk]),
        reverse("admin:agents_config_agent_publish", args=[agent.pk]),
        reverse("admin:agents_config_agent_rollback", args=[agent.pk]),
        reverse("admin:agents_config_agent_duplicate", args=[agent.pk]),
        reverse("admin:agents_config_agent_import"),
        reverse("admin:agents_config_agentversion_changelist"),
        reverse("admin:agents_config_agentversion_change", args=[version.pk]),
        reverse("admin:tenants_tenant_changelist"),
        reverse("admin:tenants_tenant_change", args=[agent.tenant.pk]),
        reverse("admin:tenants_apikey_add"),
        reverse("admin:tenants_auditevent_changelist"),
        reverse("admin:sessions_app_session_changelist"),
        reverse("admin:sessions_app_session_change", args=[session.pk]),
    ]
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url


def test_change_form_shows_sections_as_fields(admin_client, agent):
    response = admin_client.get(reverse("admin:agents_config_agent_change", args=[agent.pk]))
    html = response.content.decode()
    assert 'name="llm_config__temperature"' in html
    assert 'name="tts_config__voice"' in html
    assert '<select name="llm_config__provider"' in html
    assert "Publish…" in html and "Try" not in html.split("object-tools")[0]


def test_saving_the_change_form_validates_sections(admin_client, agent):
    url = reverse("admin:agents_config_agent_change", args=[agent.pk])
    bad = change_form_data(agent, llm_config__temperature="9", tracing_config__sample_rate="2")
    response = admin_client.post(url, bad)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "llm_config__temperature" in errors and "tracing_config__sample_rate" in errors
    agent.refresh_from_db()
    assert agent.llm_config["temperature"] == 0.7  # nothing stored

    good = change_form_data(agent, llm_config__temperature="0.3")
    response = admin_client.post(url, good)
    assert response.status_code == 302, response.context and response.context["errors"]
    agent.refresh_from_db()
    assert agent.llm_config["temperature"] == 0.3
    assert agent.revision == 2


def _as_browser_submits(data: dict[str, object]) -> dict[str, object]:
    """Browsers submit every textarea with CRLF line endings."""
    return {k: v.replace("\n", "\r\n") if isinstance(v, str) else v for k, v in data.items()}


def test_saving_unchanged_in_a_browser_makes_no_phantom_version(admin_client, agent):
    services.agent_publish(agent=agent, version="1.0.0")
    agent.refresh_from_db()
    assert "\n" in agent.prompt_config["instructions"]
    url = reverse("admin:agents_config_agent_change", args=[agent.pk])
    fields = list(agent.schema_fields.all())
    longer = {"schema_fields-0-description": f"{fields[0].description}\nMore."}
    data = _as_browser_submits(change_form_data(agent, **longer))
    assert "\r\n" in data["prompt_config__instructions"]
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context and response.context["errors"]
    agent.refresh_from_db()
    assert "\r" not in agent.prompt_config["instructions"]
    assert "\r" not in agent.schema_fields.get(pk=fields[0].pk).description

    publish = reverse("admin:agents_config_agent_publish", args=[agent.pk])
    admin_client.post(publish, {"bump": "minor"})
    agent.refresh_from_db()
    published = agent.published_version.version
    assert published == "1.1.0"  # the extra line of one description is a real change
    response = admin_client.post(url, _as_browser_submits(change_form_data(agent)))
    assert response.status_code == 302
    admin_client.post(publish, {"bump": "minor"})
    agent.refresh_from_db()
    assert agent.published_version.version == published  # nothing changed: no new version


def test_every_text_is_stored_with_lf_line_endings(agent):
    document = agent_draft_document(agent)
    document["prompt_config"]["instructions"] = "Line one.\r\nLine two.\rLine three."
    document["prompt_config"]["examples"][0]["user"] = "Hello\r\nofficer"
    document["schema_config"]["fields"][0]["description"] = "a\r\nb"
    services.agent_update_draft(agent=agent, data=document)
    agent.refresh_from_db()
    stored = agent_draft_document(agent)
    assert stored["prompt_config"]["instructions"] == "Line one.\nLine two.\nLine three."
    assert stored["prompt_config"]["examples"][0]["user"] == "Hello\nofficer"
    assert stored["schema_config"]["fields"][0]["description"] == "a\nb"


def test_schema_field_errors_land_on_their_row(admin_client, agent):
    url = reverse("admin:agents_config_agent_change", args=[agent.pk])
    data = change_form_data(agent)
    data["schema_fields-3-field_type"] = "Literal[__import__('os')]"
    response = admin_client.post(url, data)
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert "field_type" in formset.forms[3].errors
    assert "character" in str(formset.forms[3].errors["field_type"])


def test_undeclared_template_variable_is_reported(admin_client, agent):
    url = reverse("admin:agents_config_agent_change", args=[agent.pk])
    data = change_form_data(agent, prompt_config__instructions="Hello {{ stranger }}")
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "stranger" in str(response.context["adminform"].form.errors)


def test_publish_rollback_duplicate_export_pages(admin_client, agent):
    publish = reverse("admin:agents_config_agent_publish", args=[agent.pk])
    assert admin_client.post(publish, {"bump": "minor", "note": "first"}).status_code == 302
    agent.refresh_from_db()
    assert agent.published_version.version == "1.0.0"

    document = agent_draft_document(agent)
    document["llm_config"]["temperature"] = 0.1
    services.agent_update_draft(agent=agent, data=document)
    admin_client.post(publish, {"bump": "patch"})
    agent.refresh_from_db()
    assert agent.published_version.version == "1.0.1"

    v1 = AgentVersion.objects.get(agent=agent, version="1.0.0")
    rollback = reverse("admin:agents_config_agent_rollback", args=[agent.pk])
    assert admin_client.post(rollback, {"version": v1.pk}).status_code == 302
    agent.refresh_from_db()
    assert agent.published_version.version == "1.0.2"

    version_page = admin_client.get(
        reverse("admin:agents_config_agentversion_change", args=[agent.published_version.pk])
    )
    assert "llm_config.temperature" in version_page.content.decode()

    duplicate = reverse("admin:agents_config_agent_duplicate", args=[agent.pk])
    assert admin_client.post(duplicate, {"new_agent_id": "officer-b"}).status_code == 302
    assert Agent.objects.filter(agent_id="officer-b", tenant=agent.tenant).exists()

    export = admin_client.get(reverse("admin:agents_config_agent_export", args=[agent.pk]))
    assert export["Content-Disposition"].endswith('.json"')
    assert json.loads(export.content)["agent_id"] == agent.agent_id


def test_import_page(admin_client, agent, other_tenant):
    url = reverse("admin:agents_config_agent_import")
    document = json.dumps(agent_draft_document(agent))
    response = admin_client.post(
        url, {"tenant": other_tenant.pk, "document_text": document, "publish": "on"}
    )
    assert response.status_code == 302
    imported = Agent.objects.get(tenant=other_tenant, agent_id=agent.agent_id)
    assert imported.published_version is not None
    response = admin_client.post(url, {"tenant": other_tenant.pk, "document_text": "{oops"})
    assert "Not valid JSON" in response.content.decode()
    response = admin_client.post(
        url, {"tenant": other_tenant.pk, "document_text": json.dumps({"agent_id": "x"})}
    )
    assert "prompt_config" in response.content.decode()


def test_changelist_actions(admin_client, agent):
    url = reverse("admin:agents_config_agent_changelist")
    admin_client.post(url, {"action": "publish_selected", "_selected_action": [agent.pk]})
    admin_client.post(url, {"action": "disable_selected", "_selected_action": [agent.pk]})
    agent.refresh_from_db()
    assert agent.published_version is not None and agent.enabled is False
    response = admin_client.post(url, {"action": "export_selected", "_selected_action": [agent.pk]})
    assert json.loads(response.content)["agent_id"] == agent.agent_id


def test_api_key_is_shown_once_and_stored_hashed(admin_client, tenant):
    response = admin_client.post(
        reverse("admin:tenants_apikey_add"),
        {"tenant": tenant.pk, "name": "ci", "role": "developer"},
    )
    assert response.status_code == 200
    raw_key = response.context["raw_key"]
    assert raw_key in response.content.decode()
    api_key = ApiKey.objects.get(tenant=tenant, name="ci")
    assert raw_key not in api_key.key_hash and api_key.role == "developer"
    assert api_key_from_raw(raw_key) == api_key
    page = admin_client.get(reverse("admin:tenants_apikey_change", args=[api_key.pk]))
    assert raw_key not in page.content.decode()


def test_staff_member_sees_only_agents_their_role_allows(
    client, member_factory, agent, other_tenant
):
    outsider_agent = services.agent_duplicate(agent=agent, new_agent_id="other")
    viewer = member_factory(agent.tenant, "viewer")
    outsider = member_factory(other_tenant, "admin")
    client.force_login(viewer)
    changelist = client.get(reverse("admin:agents_config_agent_changelist"))
    assert changelist.status_code == 200
    assert agent.agent_id in changelist.content.decode()
    change = client.get(reverse("admin:agents_config_agent_change", args=[agent.pk]))
    assert change.status_code == 200 and 'name="llm_config__temperature"' not in (
        change.content.decode()
    )  # view only
    assert (
        client.post(
            reverse("admin:agents_config_agent_publish", args=[agent.pk]), {"bump": "minor"}
        ).status_code
        == 403
    )
    client.force_login(outsider)
    response = client.get(reverse("admin:agents_config_agent_change", args=[outsider_agent.pk]))
    assert response.status_code == 302  # not visible: redirected to the index with a message
