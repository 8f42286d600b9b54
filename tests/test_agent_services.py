"""Agent services: create, draft updates, publish, rollback, duplicate, import/export, diff."""

from __future__ import annotations

import copy

import pytest
from django.core.exceptions import ValidationError
from guardian.shortcuts import get_perms

from agents_config import services
from agents_config.contracts import ContractError
from agents_config.diff import document_diff
from agents_config.events import agent_config_changed
from agents_config.factories import agent_document, make_agent
from agents_config.models import AgentVersion
from agents_config.selectors import agent_draft_document, version_export_document
from tenants.models import AuditEvent
from tenants.services import tenant_role_group

pytestmark = pytest.mark.django_db


def test_create_stores_fields_in_order_and_grants_role_permissions(tenant):
    agent = make_agent(tenant=tenant)
    names = list(agent.schema_fields.values_list("field_name", flat=True))
    assert names == [
        "voice_instructions",
        "system_response",
        "internal_assessment",
        "interview_stage",
        "credibility_score",
        "red_flags",
    ]
    assert set(get_perms(tenant_role_group(tenant=tenant, role="admin"), agent)) == {
        "view_agent",
        "change_agent",
        "delete_agent",
    }
    assert set(get_perms(tenant_role_group(tenant=tenant, role="developer"), agent)) == {
        "view_agent",
        "change_agent",
    }
    assert get_perms(tenant_role_group(tenant=tenant, role="viewer"), agent) == ["view_agent"]
    assert AuditEvent.objects.filter(tenant=tenant, action="agent.created").count() == 1


def test_duplicate_agent_id_in_tenant_conflicts_but_other_tenant_is_fine(tenant, other_tenant):
    make_agent(tenant=tenant)
    with pytest.raises(services.AgentConflict):
        make_agent(tenant=tenant)
    make_agent(tenant=other_tenant)


@pytest.fixture
def received_events():
    """Change events sent during the test (as the receivers' keyword arguments)."""
    received: list[dict] = []

    def receiver(**kwargs):
        received.append(kwargs)

    agent_config_changed.connect(receiver)
    yield received
    agent_config_changed.disconnect(receiver)


def test_publish_snapshots_and_bumps(agent, django_capture_on_commit_callbacks, received_events):
    received = received_events
    with django_capture_on_commit_callbacks(execute=True):
        first = services.agent_publish(agent=agent, version="1.0.0", note="first")
    agent.refresh_from_db()
    assert agent.published_version == first
    assert first.document["version"] == "1.0.0"
    assert first.document["schema_config"]["fields"][1]["field_name"] == "system_response"
    assert received and received[0]["action"] == "published" and received[0]["version"] == "1.0.0"

    with pytest.raises(services.AgentConflict, match="Nothing changed"):
        services.agent_publish(agent=agent)

    document = agent_draft_document(agent)
    document["llm_config"]["temperature"] = 0.2
    services.agent_update_draft(agent=agent, data=document)
    second = services.agent_publish(agent=agent, bump_kind="minor")
    assert second.version == "1.1.0"
    assert services.agent_publish(agent=agent, bump_kind="major", allow_unchanged=True).version == (
        "2.0.0"
    )
    with pytest.raises(services.AgentConflict, match="not greater"):
        services.agent_publish(agent=agent, version="1.5.0", allow_unchanged=True)


def test_versions_are_immutable(agent):
    version = services.agent_publish(agent=agent)
    version.note = "changed"
    with pytest.raises(ValidationError):
        version.save()


def test_invalid_draft_cannot_be_published(agent):
    agent.llm_config = {**agent.llm_config, "temperature": 7}
    agent.save()
    with pytest.raises(ContractError) as info:
        services.agent_publish(agent=agent)
    assert "llm_config.temperature" in info.value.errors
    assert not AgentVersion.objects.filter(agent=agent).exists()


def test_rollback_republishes_old_snapshot_and_resets_draft(agent):
    v1 = services.agent_publish(agent=agent, version="1.0.0")
    document = agent_draft_document(agent)
    document["schema_config"]["fields"].pop(5)  # drop red_flags (and from the example)
    document["prompt_config"]["examples"][0]["assistant"].pop("red_flags")
    document["tracing_config"]["enabled"] = True
    services.agent_update_draft(agent=agent, data=document)
    v2 = services.agent_publish(agent=agent)
    rolled = services.agent_rollback(agent=agent, to_version=v1)
    agent.refresh_from_db()
    assert rolled.version == "1.1.1" and v2.version == "1.1.0"
    assert rolled.rolled_back_from == v1 and rolled.source == "rollback"
    assert rolled.checksum == v1.checksum
    assert agent.published_version == rolled
    assert agent.schema_fields.filter(field_name="red_flags").exists()
    assert agent.tracing_config["enabled"] is False


def test_stale_revision_is_refused(agent):
    document = agent_draft_document(agent)
    read_at = agent.revision
    services.agent_update_draft(agent=agent, data=document, expected_revision=read_at)
    assert agent.revision == read_at + 1
    with pytest.raises(services.StaleRevision):
        services.agent_update_draft(agent=agent, data=document, expected_revision=read_at)


def test_agent_id_cannot_change_through_an_update(agent):
    document = agent_draft_document(agent)
    document["agent_id"] = "renamed"
    with pytest.raises(ContractError):
        services.agent_update_draft(agent=agent, data=document)


def test_duplicate_copies_the_draft_unpublished(agent):
    services.agent_publish(agent=agent)
    copy_ = services.agent_duplicate(agent=agent, new_agent_id="officer-two")
    assert copy_.published_version is None
    assert copy_.schema_fields.count() == agent.schema_fields.count()
    assert copy_.prompt_config == agent.prompt_config


def test_enable_disable_emits_events(agent, django_capture_on_commit_callbacks, received_events):
    with django_capture_on_commit_callbacks(execute=True):
        services.agent_set_enabled(agent=agent, enabled=False)
        services.agent_set_enabled(agent=agent, enabled=False)  # no-op
        services.agent_set_enabled(agent=agent, enabled=True)
    assert [event["action"] for event in received_events] == ["disabled", "enabled"]


def test_export_import_round_trip_is_exact(agent, tenant):
    services.agent_publish(agent=agent, version="1.0.0")
    exported = version_export_document(agent.published_version)
    agent.delete()
    imported = services.agent_import(tenant=tenant, data=copy.deepcopy(exported), publish=True)
    assert imported.published_version.version == "1.0.0"
    assert version_export_document(imported.published_version) == exported
    assert agent_draft_document(imported) == exported


def test_import_into_another_tenant_keeps_the_content(agent, other_tenant):
    exported = agent_draft_document(agent)
    imported = services.agent_import(tenant=other_tenant, data=exported)
    again = agent_draft_document(imported)
    assert again["tenant_config"]["tenant_id"] == other_tenant.slug
    assert document_diff(exported, again) == []


def test_import_conflicts_without_replace(agent, tenant):
    with pytest.raises(services.AgentConflict):
        services.agent_import(tenant=tenant, data=agent_draft_document(agent))
    services.agent_import(tenant=tenant, data=agent_draft_document(agent), replace=True)


def test_diff_matches_fields_by_name():
    old = agent_document()
    new = copy.deepcopy(old)
    new["llm_config"]["temperature"] = 0.1
    fields = new["schema_config"]["fields"]
    fields[4]["constraints"] = {"ge": 0, "le": 100}
    fields.pop(2)  # internal_assessment removed
    fields.append({"field_name": "pronunciation_score", "field_type": "int", "required": False})
    changes = {(c.path, c.change) for c in document_diff(old, new)}
    assert ("llm_config.temperature", "changed") in changes
    assert ("schema_config.fields.credibility_score.constraints.ge", "changed") in changes
    assert ("schema_config.fields.credibility_score.constraints.le", "changed") in changes
    assert ("schema_config.fields.internal_assessment", "removed") in changes
    assert ("schema_config.fields.pronunciation_score", "added") in changes
    assert not any(path.startswith("schema_config.fields.red_flags") for path, _ in changes)
    assert document_diff(old, copy.deepcopy(old)) == []


def test_diff_reports_reordering():
    old = agent_document()
    new = copy.deepcopy(old)
    fields = new["schema_config"]["fields"]
    fields[3], fields[4] = fields[4], fields[3]
    changes = document_diff(old, new)
    assert [c.path for c in changes] == ["schema_config.fields.order"]
