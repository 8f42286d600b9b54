"""Telephony API: phone numbers, outbound trunk, calls and campaigns; roles and isolation."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from sessions_app.telephony.models import PhoneNumber
from tenants.services import api_key_create

pytestmark = pytest.mark.django_db

NUMBER = "+14155550100"


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def key_client(db):
    def build(tenant, role: str) -> APIClient:
        issued = api_key_create(tenant=tenant, name=f"{role} key", role=role)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw_key}")
        return client

    return build


def test_admins_manage_numbers_others_read(
    published_agent, key_client, livekit_server, django_capture_on_commit_callbacks
):
    tenant = published_agent.tenant
    admin, developer = key_client(tenant, "admin"), key_client(tenant, "developer")
    body = {"number": NUMBER, "agent_id": published_agent.agent_id}
    assert developer.post("/api/v1/phone-numbers", body, format="json").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        created = admin.post("/api/v1/phone-numbers", body, format="json")
    assert created.status_code == 201, created.json()
    number_id = created.json()["id"]
    listed = developer.get("/api/v1/phone-numbers").json()
    assert listed["count"] == 1
    assert listed["phone_numbers"][0]["provisioning_status"] == "provisioned"
    assert listed["phone_numbers"][0]["livekit_dispatch_rule_id"]
    url = f"/api/v1/phone-numbers/{number_id}"
    assert developer.patch(url, {"pinned_version": "1.0.0"}, format="json").status_code == 403
    patched = admin.patch(url, {"pinned_version": "1.0.0"}, format="json")
    assert patched.status_code == 200 and patched.json()["pinned_version"] == "1.0.0"
    bad = admin.patch(url, {"pinned_version": "9.9.9"}, format="json")
    assert bad.status_code == 400 and "pinned_version" in bad.json()["error"]["fields"]
    with django_capture_on_commit_callbacks(execute=True):
        assert admin.delete(url).status_code == 204
    assert livekit_server.state.dispatch_rules == {}


def test_bad_numbers_are_field_errors_and_other_tenants_are_404(
    published_agent, other_tenant, key_client
):
    admin = key_client(published_agent.tenant, "admin")
    bad = admin.post(
        "/api/v1/phone-numbers",
        {"number": "555-0100", "agent_id": published_agent.agent_id},
        format="json",
    )
    assert bad.status_code == 400 and "number" in bad.json()["error"]["fields"]
    unknown = admin.post(
        "/api/v1/phone-numbers", {"number": NUMBER, "agent_id": "nope"}, format="json"
    )
    assert unknown.status_code == 400 and "agent_id" in unknown.json()["error"]["fields"]
    phone = PhoneNumber.objects.create(
        tenant=published_agent.tenant, number=NUMBER, agent=published_agent
    )
    outsider = key_client(other_tenant, "admin")
    assert outsider.get(f"/api/v1/phone-numbers/{phone.pk}").status_code == 404
    assert outsider.delete(f"/api/v1/phone-numbers/{phone.pk}").status_code == 404
    assert outsider.get("/api/v1/phone-numbers").json()["count"] == 0


def test_outbound_trunk_call_and_its_status(
    published_agent, key_client, livekit_server, django_capture_on_commit_callbacks
):
    tenant = published_agent.tenant
    admin, viewer = key_client(tenant, "admin"), key_client(tenant, "viewer")
    trunk = {"address": "sip.example.com", "numbers": ["+14155550199"], "auth_password": "pw"}
    assert viewer.put("/api/v1/outbound-trunk", trunk, format="json").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.put("/api/v1/outbound-trunk", trunk, format="json")
    assert response.status_code == 200
    shown = viewer.get("/api/v1/outbound-trunk").json()
    assert shown["has_password"] is True and "auth_password" not in shown
    assert shown["provisioning_status"] == "provisioned"

    livekit_server.state.sip_outcomes["+33612345678"] = 486
    with django_capture_on_commit_callbacks(execute=True):
        placed = viewer.post(
            "/api/v1/calls",
            {"agent_id": published_agent.agent_id, "to": "+33612345678", "user_details": {"a": 1}},
            format="json",
        )
    assert placed.status_code == 201, placed.json()
    assert placed.json()["call_status"] == "queued"
    status = viewer.get(f"/api/v1/calls/{placed.json()['session_id']}").json()
    assert status["call_status"] == "busy" and status["sip_status_code"] == 486
    assert [h["to_status"] for h in status["history"]] == ["queued", "ringing", "busy"]
    busy = viewer.post(
        f"/api/v1/calls/{placed.json()['session_id']}/transfer",
        {"to": "+14155550111"},
        format="json",
    )
    assert busy.status_code == 409  # only an answered call can be transferred
    bad = viewer.post(
        "/api/v1/calls", {"agent_id": published_agent.agent_id, "to": "12"}, format="json"
    )
    assert bad.status_code == 400 and "to" in bad.json()["error"]["fields"]


def test_campaign_api(published_agent, key_client, livekit_server):
    admin = key_client(published_agent.tenant, "admin")
    body = {
        "name": "renewals",
        "agent_id": published_agent.agent_id,
        "max_concurrent_calls": 2,
        "recipients": [{"phone": "+33600000001", "variables": {"applicant_name": "Ana"}}],
    }
    assert (
        key_client(published_agent.tenant, "developer")
        .post("/api/v1/campaigns", body, format="json")
        .status_code
        == 403
    )
    created = admin.post("/api/v1/campaigns", body, format="json")
    assert created.status_code == 201, created.json()
    campaign_id = created.json()["id"]
    bad = admin.post(
        f"/api/v1/campaigns/{campaign_id}/recipients",
        {"recipients": [{"phone": "x"}]},
        format="json",
    )
    assert bad.status_code == 400 and "recipients.0.phone" in bad.json()["error"]["fields"]
    added = admin.post(
        f"/api/v1/campaigns/{campaign_id}/recipients",
        {"recipients": [{"phone": "+33600000002"}]},
        format="json",
    )
    assert len(added.json()["recipients"]) == 2
    assert admin.post(f"/api/v1/campaigns/{campaign_id}/start").json()["status"] == "running"
    assert admin.post(f"/api/v1/campaigns/{campaign_id}/resume").status_code == 409
    assert admin.post(f"/api/v1/campaigns/{campaign_id}/pause").json()["status"] == "paused"
    assert admin.post(f"/api/v1/campaigns/{campaign_id}/cancel").json()["status"] == "cancelled"
    detail = admin.get(f"/api/v1/campaigns/{campaign_id}").json()
    assert {r["status"] for r in detail["recipients"]} == {"cancelled"}
