"""Version experiments: weighted, sticky assignment; sessions pin it; promote; the API."""

from __future__ import annotations

import random

import pytest

from agents_config.experiments import assign_version, experiment_promote, experiment_set
from agents_config.models import VersionExperiment
from agents_config.services import agent_publish, agent_update_sections
from sessions_app import services
from tenants.models import AuditEvent, Tenant

AGENT = "visa-interview-officer"


@pytest.fixture
def two_versions(published_agent):
    prompt = dict(published_agent.prompt_config, instructions="Be brief. {{applicant_name}}")
    agent = agent_update_sections(agent=published_agent, partial={"prompt_config": prompt})
    agent_publish(agent=agent, version="1.1.0")
    agent.refresh_from_db()
    return agent


def test_assignment_follows_the_weights_and_is_sticky():
    rng = random.Random(20261201)
    users = [f"user-{rng.getrandbits(64):x}" for _ in range(10_000)]
    weights = {"1.0.0": 90, "1.1.0": 10}
    first = [assign_version(agent_pk=7, user_id=u, weights=weights) for u in users]
    share = first.count("1.1.0") / len(users)
    assert 0.09 < share < 0.11, share  # 10 % ± 1 point (σ ≈ 0.3 point)
    again = [assign_version(agent_pk=7, user_id=u, weights=weights) for u in users]
    assert again == first  # sticky per user
    thirds = {"1.0.0": 34, "1.1.0": 33, "1.2.0": 33}
    counts = dict.fromkeys(thirds, 0)
    for u in users:
        counts[assign_version(agent_pk=7, user_id=u, weights=thirds)] += 1
    assert all(abs(counts[v] / len(users) - thirds[v] / 100) < 0.02 for v in thirds), counts
    assert {assign_version(agent_pk=7, user_id=u, weights={"1.0.0": 100}) for u in users} == {
        "1.0.0"
    }


def test_sessions_pin_the_version_they_were_given(two_versions, livekit_server):
    Tenant.objects.filter(pk=two_versions.tenant_id).update(max_concurrent_sessions=None)
    experiment_set(agent=two_versions, weights={"1.0.0": 50, "1.1.0": 50})
    sessions = [
        services.session_create(tenant=two_versions.tenant, agent_id=AGENT, user_id=f"u{i}")
        for i in range(40)
    ]
    labels = {s.version_label for s in sessions}
    assert labels == {"1.0.0", "1.1.0"}
    for session in sessions[:5]:
        assert session.agent_version.version == session.version_label
        again = services.session_create(
            tenant=two_versions.tenant, agent_id=AGENT, user_id=session.user_id
        )
        assert again.version_label == session.version_label


def test_promote_makes_one_version_live_and_ends_the_experiment(two_versions, livekit_server):
    experiment_set(agent=two_versions, weights={"1.0.0": 90, "1.1.0": 10})
    experiment_promote(agent=two_versions, version="1.0.0")
    two_versions.refresh_from_db()
    assert two_versions.published_version.version == "1.0.0"
    assert not VersionExperiment.objects.filter(agent=two_versions).exists()
    session = services.session_create(tenant=two_versions.tenant, agent_id=AGENT, user_id="z")
    assert session.version_label == "1.0.0"
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"agent.experiment_set", "agent.experiment_promoted"} <= actions


def test_experiment_api(two_versions, key_client):
    client = key_client(two_versions.tenant, "developer")
    url = f"/api/v1/agents/config/{AGENT}/experiment"
    body = client.get(url).json()
    assert body["weights"] == {"1.1.0": 100} and body["live_version"] == "1.1.0"

    bad = client.put(url, {"weights": {"1.0.0": 50, "9.9.9": 40}}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"weights.9.9.9"}
    short = client.put(url, {"weights": {"1.0.0": 50, "1.1.0": 40}}, format="json")
    assert short.status_code == 400 and "add up to 100" in str(short.json())

    ok = client.put(url, {"weights": {"1.0.0": 90, "1.1.0": 10}}, format="json")
    assert ok.status_code == 200 and ok.json()["weights"] == {"1.0.0": 90, "1.1.0": 10}
    viewer = key_client(two_versions.tenant, "viewer")
    assert viewer.put(url, {"weights": {"1.0.0": 100}}, format="json").status_code == 403
    assert viewer.get(url).status_code == 200

    promoted = client.post(f"{url}/promote", {"version": "1.0.0"}, format="json")
    assert promoted.status_code == 200
    assert promoted.json()["live_version"] == "1.0.0"
    assert promoted.json()["weights"] == {"1.0.0": 100}
    missing = client.post(f"{url}/promote", {"version": "3.0.0"}, format="json")
    assert missing.status_code == 400


def test_comparison_per_version(two_versions, key_client):
    from decimal import Decimal

    from sessions_app.factories import SessionFactory, TurnFactory
    from sessions_app.models import SessionReport

    v1 = two_versions.versions.get(version="1.0.0")
    for _label, version, cost, ttft, outcome in [
        ("1.0.0", v1, "0.01", 300.0, "approved"),
        ("1.1.0", two_versions.published_version, "0.03", 500.0, "refused"),
    ]:
        session = SessionFactory(agent=two_versions, agent_version=version, cost_usd=Decimal(cost))
        TurnFactory(session=session, index=1, llm_ttft_ms=ttft, validation_errors=["x: bad"])
        SessionReport.objects.create(
            session=session,
            document={},
            analysis_status="done",
            analysis={"summary": "", "success": outcome == "approved", "outcome": outcome},
        )
    body = key_client(two_versions.tenant, "viewer").get(
        f"/api/v1/agents/config/{AGENT}/experiment"
    )
    rows = {row["version"]: row for row in body.json()["comparison"]}
    assert rows["1.0.0"]["llm_first_token_p50_ms"] == 300.0
    assert rows["1.0.0"]["outcomes"] == {"approved": 1} and rows["1.0.0"]["success_rate"] == 1
    assert rows["1.1.0"]["mean_cost_usd"] == "0.030000"
    assert rows["1.1.0"]["turns_with_validation_errors"] == 1
