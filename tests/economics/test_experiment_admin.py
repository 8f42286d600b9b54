"""The admin's version-experiment page: comparison, split and promote through the services
(validated, audited), scoped to the agent's tenant and role."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from agents_config.experiments import experiment_set
from agents_config.models import VersionExperiment
from sessions_app.factories import SessionFactory, TurnFactory
from sessions_app.models import SessionReport
from tenants.models import AuditEvent
from tests.economics.test_experiments import two_versions  # noqa: F401

pytestmark = pytest.mark.django_db


def seed_comparison(agent) -> None:
    """Two sessions per version with known first-audio times, outcomes and costs."""
    for label, audio, outcome, cost in [
        ("1.0.0", (900.0, 1100.0), "approved", "0.02"),
        ("1.1.0", (600.0, 700.0), "refused", "0.05"),
    ]:
        version = agent.versions.get(version=label)
        for ms in audio:
            session = SessionFactory(
                agent=agent, agent_version=version, version_label=label, cost_usd=Decimal(cost)
            )
            TurnFactory(session=session, index=1, e2e_latency_ms=ms, validation_errors=[])
            TurnFactory(session=session, index=2, e2e_latency_ms=ms, validation_errors=["bad"])
            SessionReport.objects.create(
                session=session,
                document={},
                analysis_status="done",
                analysis={"summary": "", "success": outcome == "approved", "outcome": outcome},
            )


def url(agent) -> str:
    return reverse("admin:agents_config_versionexperiment_compare", args=[agent.pk])


def test_the_page_compares_versions(admin_client, two_versions):  # noqa: F811
    seed_comparison(two_versions)
    experiment_set(agent=two_versions, weights={"1.0.0": 90, "1.1.0": 10})
    body = admin_client.get(url(two_versions)).content.decode()
    row = body.split('data-version="1.0.0"')[1].split("</tr>")[0]
    assert "90 %" in row and ">2<" in row  # weight, sessions
    assert "900.0 / 1100.0" in row  # first audio p50 / p90 (nearest-rank of 4 values)
    assert "2 (50.0 %)" in row  # validation errors
    assert "approved: 2" in row and "100 %" in row and "0.020000" in row
    newer = body.split('data-version="1.1.0"')[1].split("</tr>")[0]
    assert "600.0 / 700.0" in newer and "refused: 2" in newer and "0.050000" in newer
    change = admin_client.get(reverse("admin:agents_config_agent_change", args=[two_versions.pk]))
    assert url(two_versions) in change.content.decode()


def test_split_and_promote_go_through_the_services(admin_client, superuser, two_versions):  # noqa: F811
    page = url(two_versions)
    bad = admin_client.post(page, {"weight-1.0.0": "50", "weight-1.1.0": "40", "set": "1"})
    assert bad.status_code == 200 and "add up to 100" in bad.content.decode()
    assert not VersionExperiment.objects.filter(agent=two_versions).exists()

    ok = admin_client.post(page, {"weight-1.0.0": "80", "weight-1.1.0": "20", "set": "1"})
    assert ok.status_code == 302
    assert VersionExperiment.objects.get(agent=two_versions).weights == {
        "1.0.0": 80,
        "1.1.0": 20,
    }
    audit = AuditEvent.objects.get(action="agent.experiment_set")
    assert audit.actor == superuser and audit.details == {"weights": {"1.0.0": 80, "1.1.0": 20}}

    assert admin_client.post(page, {"promote": "1.0.0"}).status_code == 302
    two_versions.refresh_from_db()
    assert two_versions.published_version.version == "1.0.0"
    assert not VersionExperiment.objects.filter(agent=two_versions).exists()
    promoted = AuditEvent.objects.get(action="agent.experiment_promoted")
    assert promoted.actor == superuser and promoted.details["previous_live_version"] == "1.1.0"
    assert "100 %" in admin_client.get(page).content.decode()


def test_the_changelist_action_promotes_the_heaviest_version(admin_client, two_versions):  # noqa: F811
    experiment = experiment_set(agent=two_versions, weights={"1.0.0": 70, "1.1.0": 30})
    listing = reverse("admin:agents_config_versionexperiment_changelist")
    assert "Compare and promote" in admin_client.get(listing).content.decode()
    response = admin_client.post(
        listing, {"action": "promote_heaviest", "_selected_action": [experiment.pk]}
    )
    assert response.status_code == 302
    two_versions.refresh_from_db()
    assert two_versions.published_version.version == "1.0.0"
    assert AuditEvent.objects.filter(action="agent.experiment_promoted").count() == 1


def test_roles_and_tenants(client, member_factory, two_versions, other_tenant):  # noqa: F811
    page = url(two_versions)
    viewer = member_factory(two_versions.tenant, "viewer")
    client.force_login(viewer)
    body = client.get(page).content.decode()
    assert 'data-version="1.1.0"' in body and "Promote to 100 %" not in body
    assert client.post(page, {"promote": "1.0.0"}).status_code == 403
    two_versions.refresh_from_db()
    assert two_versions.published_version.version == "1.1.0"

    developer = member_factory(two_versions.tenant, "developer")
    client.force_login(developer)
    assert client.post(page, {"promote": "1.0.0"}).status_code == 302

    outsider = member_factory(other_tenant, "admin")
    client.force_login(outsider)
    assert client.get(page).status_code == 404
    assert client.post(page, {"promote": "1.1.0"}).status_code == 404
