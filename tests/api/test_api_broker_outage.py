"""A broker outage while a session is created: 503 in the error shape, nothing left pending."""

from __future__ import annotations

import pytest

from config.celery import app
from sessions_app.models import Session, SessionStatus, UsageCounter
from tenants.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True)

CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def broker_down():
    """Tasks are really published (not eager), to a broker that refuses connections."""
    saved = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url = CLOSED_PORT_BROKER
    app.conf.task_always_eager = False
    app._pool = None  # connections and producers are cached per broker URL
    app.amqp._producer_pool = None
    try:
        yield
    finally:
        app.conf.broker_url, app.conf.task_always_eager = saved
        app._pool = None
        app.amqp._producer_pool = None


def test_session_create_during_a_broker_outage_is_a_503_and_frees_the_quota(
    published_agent, key_client, livekit_server, broker_down
):
    Tenant.objects.filter(pk=published_agent.tenant_id).update(
        max_concurrent_sessions=1, max_sessions_per_month=10
    )
    client = key_client(published_agent.tenant, "admin")
    body = {"agent_id": published_agent.agent_id, "user_id": "alice"}
    response = client.post("/api/v1/sessions", body, format="json")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "5"
    error = response.json()["error"]
    assert error["code"] == "service_unavailable" and "retry" in error["message"]
    session = Session.objects.get(tenant=published_agent.tenant)
    assert session.status == SessionStatus.FAILED
    assert "broker is unavailable" in session.failure_reason
    assert list(session.transitions.values_list("to_status", flat=True)) == ["pending", "failed"]
    # The concurrent slot is free again and the month's count given back.
    assert UsageCounter.objects.get(tenant=published_agent.tenant).sessions_started == 0


def test_after_the_outage_the_next_session_starts(
    published_agent, key_client, livekit_server, broker_down
):
    Tenant.objects.filter(pk=published_agent.tenant_id).update(max_concurrent_sessions=1)
    client = key_client(published_agent.tenant, "admin")
    body = {"agent_id": published_agent.agent_id, "user_id": "alice"}
    assert client.post("/api/v1/sessions", body, format="json").status_code == 503
    app.conf.task_always_eager = True  # the broker is back (tasks run in-process, as elsewhere)
    again = client.post("/api/v1/sessions", body, format="json")
    assert again.status_code == 201, again.json()
    assert Session.objects.get(pk=again.json()["session_id"]).status == SessionStatus.PROVISIONED
