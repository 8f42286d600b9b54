"""Session endpoints: create (quota, token), list filters, detail, end, report; isolation."""

from __future__ import annotations

import threading

import jwt
import pytest
from django.db import close_old_connections, connection
from rest_framework.test import APIClient

from agents_config.services import agent_set_enabled
from sessions_app.factories import TurnFactory
from sessions_app.models import Session, SessionReport, SessionStatus
from tenants.models import Tenant
from tenants.services import api_key_create

pytestmark = pytest.mark.django_db

BODY = {"agent_id": "visa-interview-officer", "user_id": "alice"}


def start(client, **body):
    return client.post("/api/v1/sessions", {**BODY, **body}, format="json")


def test_create_returns_token_url_and_pins_the_version(
    published_agent, key_client, livekit_server, django_capture_on_commit_callbacks
):
    client = key_client(published_agent.tenant, "viewer")
    with django_capture_on_commit_callbacks(execute=True):
        response = start(client, user_details={"applicant_name": "Ana"})
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "pending" and data["version"] == "1.0.0"
    assert data["livekit"]["url"] == livekit_server.url
    claims = jwt.decode(
        data["livekit"]["token"], livekit_server.state.api_secret, algorithms=["HS256"]
    )
    assert claims["sub"] == "alice" and claims["video"]["room"] == data["room_name"]
    assert Session.objects.get(pk=data["session_id"]).status == SessionStatus.PROVISIONED


def test_create_errors_use_the_error_shape(published_agent, key_client, livekit_server):
    client = key_client(published_agent.tenant, "admin")
    assert start(client, agent_id="nope").status_code == 404
    bad = start(client, overrides={"llm_config": {"base_url": "http://evil"}})
    assert bad.status_code == 400
    assert "overrides.llm_config.base_url" in bad.json()["error"]["fields"]
    assert start(client, extra=1).json()["error"]["fields"] == {"extra": ["Unknown key."]}
    agent_set_enabled(agent=published_agent, enabled=False)
    disabled = start(client)
    assert disabled.status_code == 409 and "disabled" in disabled.json()["error"]["message"]


def test_quota_exhaustion_is_429_naming_the_quota(published_agent, key_client, livekit_server):
    Tenant.objects.filter(pk=published_agent.tenant_id).update(max_sessions_per_month=1)
    client = key_client(published_agent.tenant, "admin")
    assert start(client).status_code == 201
    response = start(client, user_id="bob")
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert error["quota"]["name"] == "max_sessions_per_month" and error["quota"]["limit"] == 1
    assert error["quota"]["reset_at"] and int(response["Retry-After"]) > 0


def test_no_livekit_settings_is_503_and_nothing_is_stored(published_agent, key_client, settings):
    settings.LIVEKIT_URL = ""
    response = start(key_client(published_agent.tenant, "admin"))
    assert response.status_code == 503
    assert not Session.objects.exists()


def test_list_detail_end_and_report(
    published_agent, key_client, livekit_server, django_capture_on_commit_callbacks
):
    client = key_client(published_agent.tenant, "developer")
    first = start(client).json()["session_id"]
    start(client, user_id="bob")
    listed = client.get("/api/v1/sessions", {"user": "alice"}).json()
    assert [s["session_id"] for s in listed["sessions"]] == [first] and listed["count"] == 1
    assert client.get("/api/v1/sessions", {"status": "ended"}).json()["count"] == 0
    assert client.get("/api/v1/sessions", {"agent": "visa-interview-officer"}).json()["count"] == 2
    assert client.get("/api/v1/sessions", {"status": "bogus"}).status_code == 400

    session = Session.objects.get(pk=first)
    TurnFactory(
        session=session,
        index=1,
        structured_output={
            "system_response": "Hello.",
            "internal_assessment": "secret",
            "interview_stage": "document_check",
        },
    )
    detail = client.get(f"/api/v1/sessions/{first}").json()
    assert detail["turns"][0]["structured_output"] == {
        "system_response": "Hello.",
        "interview_stage": "document_check",
    }
    assert [t["to_status"] for t in detail["transitions"]] == ["pending"]
    assert client.get(f"/api/v1/sessions/{first}/report").status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        ended = client.post(f"/api/v1/sessions/{first}/end")
    assert ended.json() == {"status": "ended", "session_id": first}
    assert client.post(f"/api/v1/sessions/{first}/end").status_code == 409
    assert session.room_name not in livekit_server.state.rooms
    report = client.get(f"/api/v1/sessions/{first}/report").json()["report"]
    assert report["hidden_fields"] == ["internal_assessment"]
    assert report["turns"][0]["structured_output"]["internal_assessment"] == "secret"
    assert SessionReport.objects.count() == 1


@pytest.mark.parametrize("role", ["admin", "developer", "viewer"])
def test_other_tenants_sessions_are_404(
    role, published_agent, other_tenant, key_client, livekit_server
):
    own = key_client(published_agent.tenant, role)
    session_id = start(own).json()["session_id"]
    outsider = key_client(other_tenant, role)
    for method, path in [
        ("get", f"/api/v1/sessions/{session_id}"),
        ("post", f"/api/v1/sessions/{session_id}/end"),
        ("get", f"/api/v1/sessions/{session_id}/report"),
    ]:
        assert getattr(outsider, method)(path).status_code == 404
    assert start(outsider).status_code == 404
    assert outsider.get("/api/v1/sessions").json()["count"] == 0


def test_unauthenticated_is_401(anon_client):
    assert anon_client.post("/api/v1/sessions", BODY, format="json").status_code == 401
    assert anon_client.get("/api/v1/sessions").status_code == 401


def test_withheld_agent_hides_its_sessions(published_agent, key_client, livekit_server):
    from guardian.shortcuts import remove_perm

    from tenants.services import tenant_role_group

    admin = key_client(published_agent.tenant, "admin")
    session_id = start(admin).json()["session_id"]
    viewer = key_client(published_agent.tenant, "viewer")
    remove_perm(
        "view_agent",
        tenant_role_group(tenant=published_agent.tenant, role="viewer"),
        published_agent,
    )
    assert viewer.get(f"/api/v1/sessions/{session_id}").status_code == 404
    assert start(viewer).status_code == 404
    assert viewer.get("/api/v1/sessions").json()["count"] == 0


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_api_requests_against_a_quota_of_ten(published_agent, livekit_server):
    Tenant.objects.filter(pk=published_agent.tenant_id).update(
        max_concurrent_sessions=10, api_requests_per_minute=1000
    )
    raw_key = api_key_create(tenant=published_agent.tenant, name="load", role="admin").raw_key
    statuses: list[int] = []
    barrier = threading.Barrier(50)

    def attempt(index: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        barrier.wait()
        try:
            statuses.append(start(client, user_id=f"user-{index}").status_code)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(201) == 10 and statuses.count(429) == 40
    assert Session.objects.count() == 10
