"""The hot read path: one query for the agent and its object permission, the rendered draft
cached per revision (and never served stale)."""

from __future__ import annotations

import pytest

from agents_config.factories import make_agent
from agents_config.models import Agent, AgentGroupObjectPermission
from agents_config.selectors import agent_draft_document, draft_cache_clear
from tenants.factories import TenantFactory

AGENT = "cached-agent"


@pytest.fixture(autouse=True)
def _empty_draft_cache():
    draft_cache_clear()
    yield
    draft_cache_clear()


@pytest.fixture
def agent(tenant):
    return make_agent(tenant=tenant, agent_id=AGENT)


def expected_document(agent: Agent) -> dict:
    agent = Agent.objects.select_related("tenant", "published_version").get(pk=agent.pk)
    return {
        **agent_draft_document(agent),
        "config_id": str(agent.pk),
        "published_version": None,
        "revision": agent.revision,
    }


def test_cached_read_costs_two_queries(tenant, agent, key_client, django_assert_num_queries):
    client = key_client(tenant, "viewer")
    first = client.get(f"/api/v1/agents/config/{AGENT}")
    assert first.status_code == 200
    # Warm: the API key (with its tenant) and one query for the agent + object permission.
    with django_assert_num_queries(2):
        second = client.get(f"/api/v1/agents/config/{AGENT}")
    assert second.json() == first.json() == expected_document(agent)
    assert second["ETag"] == f'"{agent.pk}-{agent.revision}"'


def test_cache_follows_revision(tenant, agent, key_client):
    viewer = key_client(tenant, "viewer")
    admin = key_client(tenant, "admin")
    assert viewer.get(f"/api/v1/agents/config/{AGENT}").json()["name"] != "Renamed"
    changed = admin.put(f"/api/v1/agents/config/{AGENT}", {"name": "Renamed"}, format="json")
    assert changed.status_code == 200
    after = viewer.get(f"/api/v1/agents/config/{AGENT}")
    agent.refresh_from_db()
    assert after.json()["name"] == "Renamed"
    assert after.json() == expected_document(agent)
    assert after["ETag"] == f'"{agent.pk}-{agent.revision}"'


def test_cache_follows_publish_and_tenant_settings(tenant, agent, key_client):
    viewer = key_client(tenant, "viewer")
    admin = key_client(tenant, "admin")
    viewer.get(f"/api/v1/agents/config/{AGENT}")
    assert admin.post(f"/api/v1/agents/config/{AGENT}/publish", {}, format="json").status_code in (
        200,
        201,
    )
    tenant.max_concurrent_sessions = 7
    tenant.save()
    body = viewer.get(f"/api/v1/agents/config/{AGENT}").json()
    agent.refresh_from_db()
    assert body["published_version"] == agent.published_version.version
    assert body["version"] == agent.published_version.version
    assert body["tenant_config"]["quotas"]["max_concurrent_sessions"] == 7


def test_missing_permission_and_other_tenant(tenant, agent, key_client):
    viewer = key_client(tenant, "viewer")
    AgentGroupObjectPermission.objects.filter(content_object=agent).delete()
    assert viewer.get(f"/api/v1/agents/config/{AGENT}").status_code == 403
    other = key_client(TenantFactory(), "admin")
    assert other.get(f"/api/v1/agents/config/{AGENT}").status_code == 404
    assert viewer.get("/api/v1/agents/config/no-such-agent").status_code == 404


def test_rate_limit_is_one_pipelined_round_trip(tenant, agent, key_client, monkeypatch):
    """The throttle sends SET NX EX + INCRBY in one pipeline per request (it was SET, EXISTS
    and INCRBY, each with a new Redis client): one write to the Redis socket per request."""
    from redis.connection import AbstractConnection

    from tenants.throttling import count_in_window

    viewer = key_client(tenant, "viewer")
    viewer.get(f"/api/v1/agents/config/{AGENT}")
    sent: list[list[bytes]] = []
    original = AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command if isinstance(command, list) else [command])
        return original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    for _ in range(3):
        assert viewer.get(f"/api/v1/agents/config/{AGENT}").status_code == 200
    assert len(sent) == 3, sent
    assert all(b"INCRBY" in b"".join(chunks) and b"NX" in b"".join(chunks) for chunks in sent)
    key = f"test-window-{tenant.pk}"
    assert [count_in_window(key, 60) for _ in range(3)] == [1, 2, 3]


def test_prepared_lookups_follow_the_rows(tenant, agent, key_client):
    """The compiled-once queries read fresh rows: a revoked key, a deactivated tenant and a
    renamed agent take effect on the next request."""
    from django.utils import timezone

    from tenants.models import ApiKey

    viewer = key_client(tenant, "viewer")
    assert viewer.get(f"/api/v1/agents/config/{AGENT}").status_code == 200
    agent.name = "Renamed directly"
    agent.revision += 1
    agent.save()
    assert viewer.get(f"/api/v1/agents/config/{AGENT}").json()["name"] == "Renamed directly"
    ApiKey.objects.filter(tenant=tenant).update(revoked_at=timezone.now())
    assert viewer.get(f"/api/v1/agents/config/{AGENT}").status_code == 401
    fresh = key_client(tenant, "viewer")
    tenant.is_active = False
    tenant.save()
    assert fresh.get(f"/api/v1/agents/config/{AGENT}").status_code == 401
