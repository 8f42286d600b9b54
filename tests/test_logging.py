"""Structured logs carry correlation ids from requests, tasks and jobs."""

from __future__ import annotations

import json
import logging

import pytest

from tenants.platform.logging import (
    ContextFilter,
    JsonFormatter,
    bind_log_context,
    reset_log_context,
)


def render(message: str) -> dict:
    record = logging.getLogRecordFactory()("test", logging.INFO, __file__, 1, message, None, None)
    ContextFilter().filter(record)
    return json.loads(JsonFormatter().format(record))


def test_bound_ids_appear_in_json_lines_and_unbind():
    reset_log_context()
    with bind_log_context(session_id="s-1", tenant_id="acme", user_id=None):
        line = render("turn stored")
        with bind_log_context(agent_id="officer", version="1.0.0"):
            inner = render("nested")
    after = render("after")
    assert line["session_id"] == "s-1" and line["tenant_id"] == "acme"
    assert "user_id" not in line and line["message"] == "turn stored"
    assert inner["agent_id"] == "officer" and inner["session_id"] == "s-1"
    assert "session_id" not in after


@pytest.mark.django_db
def test_requests_get_a_request_id(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    generated = client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-ID"]
    assert len(generated) == 32 and " " not in generated


def test_celery_tasks_start_with_a_fresh_context():
    from celery.signals import task_prerun

    with bind_log_context(session_id="leaked"):
        task_prerun.send(sender=None, task_id="t-1", task=None, args=(), kwargs={})
        line = render("in task")
    assert line["task_id"] == "t-1" and "session_id" not in line


@pytest.mark.django_db
def test_api_requests_bind_the_tenant(tenant, monkeypatch):
    from rest_framework.test import APIClient

    from agents_config import apis
    from tenants.platform.logging import current_log_context
    from tenants.services import api_key_create

    seen: list[dict] = []
    original = apis.agent_draft_head  # the API-key read path's agent lookup

    def spy(**kwargs):
        seen.append(current_log_context())
        logging.getLogger("test").warning("inside the view")
        return original(**kwargs)

    monkeypatch.setattr(apis, "agent_draft_head", spy)
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION="Bearer "
        + api_key_create(tenant=tenant, name="k", role="viewer").raw_key
    )
    assert api.get("/api/v1/agents/config/missing-agent").status_code == 404
    assert seen[0]["tenant_id"] == tenant.slug and seen[0]["agent_id"] == "missing-agent"
    assert seen[0]["request_id"]


def test_library_extra_keys_do_not_clash_with_bound_ids():
    """livekit-agents logs extra={"version": ...}; a bound version must not break that."""
    with bind_log_context(version="1.0.0", session_id="s-9"):
        record = logging.getLogger("livekit.agents").makeRecord(
            "livekit.agents",
            logging.INFO,
            __file__,
            1,
            "starting worker",
            None,
            None,
            extra={"version": "1.8.9"},
        )
    assert record.version == "1.8.9" and record.correlation["version"] == "1.0.0"
