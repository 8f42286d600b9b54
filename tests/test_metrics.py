"""GET /metrics: restricted, and it counts what happened (requests, DB, tasks, sessions)."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agents_config.factories import make_agent
from sessions_app.tasks import expire_sessions
from tenants.services import api_key_create


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_is_loopback_only_without_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 404
    # A reverse proxy on this host connects from loopback on behalf of anyone.
    forwarded = client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert forwarded.status_code == 404
    assert client.get("/metrics", HTTP_FORWARDED="for=203.0.113.9").status_code == 404


def test_metrics_token(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret", REMOTE_ADDR="10.1.2.3")
    assert ok.status_code == 200 and b"voiceagents_celery_queue_depth" in ok.content


@pytest.mark.django_db
def test_requests_tasks_and_sessions_are_counted(client, tenant, settings):
    settings.METRICS_TOKEN = ""
    make_agent(tenant=tenant, agent_id="metered")
    api = api_key_create(tenant=tenant, name="m", role="viewer")
    before = scrape(client)
    for _ in range(3):
        response = client.get(
            "/api/v1/agents/config/metered", HTTP_AUTHORIZATION=f"Bearer {api.raw_key}"
        )
        assert response.status_code == 200
    assert client.get("/api/v1/agents/config/nope").status_code == 401
    expire_sessions.delay()  # eager under the test settings: the same signals as a worker
    after = scrape(client)

    view = "api-agent-config"
    by_view = "django_http_requests_total_by_view_transport_method_total"
    assert (
        value(after, by_view, view=view, transport="http", method="GET")
        - value(before, by_view, view=view, transport="http", method="GET")
        == 4
    )
    status = "django_http_responses_total_by_status_total"
    assert value(after, status, status="401") - value(before, status, status="401") == 1
    latency = "django_http_requests_latency_including_middlewares_seconds_count"
    assert value(after, latency) - value(before, latency) >= 4
    executions = "django_db_execute_total"
    assert value(after, executions, alias="default", vendor="postgresql") > value(
        before, executions, alias="default", vendor="postgresql"
    )
    task = "voiceagents_celery_tasks_total"
    labels = {"task": "sessions_app.tasks.expire_sessions", "outcome": "success"}
    assert value(after, task, **labels) - value(before, task, **labels) == 1
