"""Telephony in the admin: numbers provisioned through the service, CSV recipients, actions."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sessions_app.telephony.models import Campaign, CampaignStatus, PhoneNumber

pytestmark = pytest.mark.django_db

MANAGEMENT = {
    "recipients-TOTAL_FORMS": "0",
    "recipients-INITIAL_FORMS": "0",
    "recipients-MIN_NUM_FORMS": "0",
    "recipients-MAX_NUM_FORMS": "1000",
}


def campaign_form(agent, csv: bytes) -> dict:
    return {
        "tenant": agent.tenant_id,
        "name": "renewals",
        "agent": agent.pk,
        "from_number": "",
        "window_start": "09:00",
        "window_end": "18:00",
        "window_weekdays": "[0, 1, 2, 3, 4]",
        "max_concurrent_calls": "2",
        "max_attempts": "3",
        "retry_delay_minutes": "30",
        "voicemail_action": "hang_up",
        "voicemail_message": "",
        "recipients_csv": SimpleUploadedFile("list.csv", csv, content_type="text/csv"),
        **MANAGEMENT,
    }


def test_a_number_added_in_the_admin_is_provisioned(
    admin_client, published_agent, livekit_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/sessions_app/phonenumber/add/",
            {
                "tenant": published_agent.tenant_id,
                "number": "+14155550100",
                "agent": published_agent.pk,
                "over_quota_message": "Busy, sorry.",
            },
        )
    assert response.status_code == 302, response.content[:2000]
    phone = PhoneNumber.objects.get(number="+14155550100")
    assert phone.livekit_dispatch_rule_id in livekit_server.state.dispatch_rules
    bad = admin_client.post(
        "/admin/sessions_app/phonenumber/add/",
        {"tenant": published_agent.tenant_id, "number": "12345", "agent": published_agent.pk},
    )
    assert bad.status_code == 200 and b"E.164" in bad.content


def test_campaign_csv_upload_and_actions(admin_client, published_agent):
    csv = b"phone,applicant_name\n+33600000001,Ana\n+33600000002,Bo\n"
    response = admin_client.post(
        "/admin/sessions_app/campaign/add/", campaign_form(published_agent, csv)
    )
    assert response.status_code == 302, response.content[:3000]
    campaign = Campaign.objects.get(name="renewals")
    assert [(r.phone, r.variables) for r in campaign.recipients.all()] == [
        ("+33600000001", {"applicant_name": "Ana"}),
        ("+33600000002", {"applicant_name": "Bo"}),
    ]
    admin_client.post(
        "/admin/sessions_app/campaign/",
        {"action": "start_campaigns", "_selected_action": [campaign.pk]},
    )
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING
    bad_csv = b"phone\nnot-a-number\n"
    form = campaign_form(published_agent, bad_csv)
    form["name"] = "broken"
    bad = admin_client.post("/admin/sessions_app/campaign/add/", form)
    assert bad.status_code == 200 and b"line 2" in bad.content
    assert not Campaign.objects.filter(name="broken").exists()
