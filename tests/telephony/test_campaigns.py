"""Campaigns: calling window in the tenant's zone, concurrency cap, quota, retries of no answer
and busy after a delay, pause/resume/cancel, per-recipient outcome; time passed as ``now=``."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from sessions_app.models import Session, SessionStatus
from sessions_app.services import session_end
from sessions_app.telephony import services, tasks
from sessions_app.telephony.admin import parse_recipients_csv
from sessions_app.telephony.models import CampaignStatus, RecipientStatus

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
# Tuesday 1 December 2026, 10:00 in Paris (inside a 09:00-18:00 weekday window).
TUESDAY_10 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=PARIS)
NUMBERS = ["+33600000001", "+33600000002", "+33600000003"]


@pytest.fixture
def campaign(published_agent, livekit_server, django_capture_on_commit_callbacks):
    tenant = published_agent.tenant
    tenant.time_zone = "Europe/Paris"
    tenant.save()
    with django_capture_on_commit_callbacks(execute=True):
        services.outbound_trunk_set(
            tenant=tenant, address="sip.example.com", numbers=["+14155550199"]
        )
    return services.campaign_create(
        tenant=tenant,
        agent=published_agent,
        name="renewals",
        recipients=[
            {"phone": n, "variables": {"applicant_name": f"A{i}"}} for i, n in enumerate(NUMBERS)
        ],
        max_concurrent_calls=2,
        max_attempts=2,
        retry_delay_minutes=30,
    )


def tick(campaign, capture, now):
    with capture(execute=True):
        return services.campaign_tick(campaign=campaign, now=now)


def statuses(campaign):
    return {r.phone: r.status for r in campaign.recipients.all()}


def test_a_draft_or_out_of_window_campaign_places_no_call(
    campaign, django_capture_on_commit_callbacks
):
    assert tick(campaign, django_capture_on_commit_callbacks, TUESDAY_10) == 0  # still a draft
    services.campaign_control(campaign=campaign, action="start")
    evening = TUESDAY_10.replace(hour=18, minute=30)
    assert tick(campaign, django_capture_on_commit_callbacks, evening) == 0
    saturday = TUESDAY_10 + dt.timedelta(days=4)
    assert tick(campaign, django_capture_on_commit_callbacks, saturday) == 0
    # 08:30 UTC is 09:30 in Paris: inside the tenant's window although before 09:00 in UTC.
    utc_morning = dt.datetime(2026, 12, 1, 8, 30, tzinfo=dt.UTC)
    assert tick(campaign, django_capture_on_commit_callbacks, utc_morning) == 2


def test_concurrency_cap_variables_and_outcomes(
    campaign, livekit_server, django_capture_on_commit_callbacks
):
    services.campaign_control(campaign=campaign, action="start")
    assert tick(campaign, django_capture_on_commit_callbacks, TUESDAY_10) == 2
    assert statuses(campaign) == {
        NUMBERS[0]: "answered",
        NUMBERS[1]: "answered",
        NUMBERS[2]: "pending",
    }
    first = campaign.recipients.get(phone=NUMBERS[0])
    assert first.session.user_details["applicant_name"] == "A0"
    assert first.attempts == 1 and first.last_call_status == "answered"
    # both calls are still in progress: the cap holds the third
    assert tick(campaign, django_capture_on_commit_callbacks, TUESDAY_10) == 0
    session_end(session=first.session, reason="caller hung up")
    assert tick(campaign, django_capture_on_commit_callbacks, TUESDAY_10) == 1
    assert statuses(campaign)[NUMBERS[2]] == "answered"
    for session in Session.objects.filter(status__in=["pending", "provisioned", "active"]):
        session_end(session=session, reason="done")
    tick(campaign, django_capture_on_commit_callbacks, TUESDAY_10)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED


@pytest.fixture
def clock(monkeypatch):
    """The platform's clock (``django.utils.timezone.now``), set by the test: call outcomes
    arrive asynchronously and compute the retry time from it."""
    current = {"now": TUESDAY_10}
    monkeypatch.setattr("django.utils.timezone.now", lambda: current["now"])
    return current


def test_no_answer_and_busy_are_retried_after_the_delay(
    campaign, livekit_server, django_capture_on_commit_callbacks, clock
):
    livekit_server.state.sip_outcomes.update({NUMBERS[0]: 480, NUMBERS[1]: 486})
    services.campaign_control(campaign=campaign, action="start")
    campaign.max_concurrent_calls = 3
    campaign.save()
    tick(campaign, django_capture_on_commit_callbacks, TUESDAY_10)
    retried = campaign.recipients.get(phone=NUMBERS[0])
    assert retried.status == RecipientStatus.PENDING and retried.attempts == 1
    assert retried.last_call_status == "no_answer"
    assert retried.next_attempt_at > TUESDAY_10 + dt.timedelta(minutes=29)
    # not due yet
    assert (
        tick(campaign, django_capture_on_commit_callbacks, TUESDAY_10 + dt.timedelta(minutes=10))
        == 0
    )
    # due again: the second (last) attempt fails too and the outcome is final
    later = retried.next_attempt_at + dt.timedelta(seconds=1)
    clock["now"] = later
    assert tick(campaign, django_capture_on_commit_callbacks, later) == 2
    assert statuses(campaign) == {
        NUMBERS[0]: "no_answer",
        NUMBERS[1]: "busy",
        NUMBERS[2]: "answered",
    }
    assert campaign.recipients.get(phone=NUMBERS[1]).attempts == 2


def test_pause_resume_and_cancel(campaign, django_capture_on_commit_callbacks):
    services.campaign_control(campaign=campaign, action="start")
    assert services.campaign_control(campaign=campaign, action="pause")
    assert tick(campaign, django_capture_on_commit_callbacks, TUESDAY_10) == 0
    assert not services.campaign_control(campaign=campaign, action="pause")
    assert services.campaign_control(campaign=campaign, action="resume")
    assert tick(campaign, django_capture_on_commit_callbacks, TUESDAY_10) == 2
    assert services.campaign_control(campaign=campaign, action="cancel")
    assert statuses(campaign)[NUMBERS[2]] == RecipientStatus.CANCELLED
    assert tick(campaign, django_capture_on_commit_callbacks, TUESDAY_10) == 0


def test_the_tenant_quota_caps_a_campaign(campaign, django_capture_on_commit_callbacks):
    tenant = campaign.tenant
    tenant.max_concurrent_sessions = 1
    tenant.save()
    services.campaign_control(campaign=campaign, action="start")
    assert tick(campaign, django_capture_on_commit_callbacks, TUESDAY_10) == 1
    assert list(campaign.recipients.values_list("status", flat=True)).count("pending") == 2


def test_the_beat_task_ticks_running_campaigns(campaign, django_capture_on_commit_callbacks):
    from django_celery_beat.models import PeriodicTask

    assert PeriodicTask.objects.filter(task="sessions_app.telephony.tasks.tick_campaigns").exists()
    services.campaign_control(campaign=campaign, action="start")
    with django_capture_on_commit_callbacks(execute=True):
        placed = tasks.tick_campaigns.apply().get()
    # the real clock decides whether we are inside the window
    assert placed == (2 if services.in_calling_window(campaign, dt.datetime.now(dt.UTC)) else 0)


def test_csv_recipients_with_variables():
    rows = parse_recipients_csv(
        b"phone,applicant_name,city\n+33600000001,Ana,Lyon\n+33600000002,,\n"
    )
    assert rows == [
        {"phone": "+33600000001", "variables": {"applicant_name": "Ana", "city": "Lyon"}},
        {"phone": "+33600000002", "variables": {}},
    ]


def test_sessions_of_campaign_calls_are_open_then_ended(
    campaign, django_capture_on_commit_callbacks
):
    services.campaign_control(campaign=campaign, action="start")
    tick(campaign, django_capture_on_commit_callbacks, TUESDAY_10)
    open_sessions = Session.objects.filter(status=SessionStatus.PROVISIONED).count()
    assert open_sessions == 2


def test_voicemail_is_the_recipients_outcome(campaign, django_capture_on_commit_callbacks):
    services.campaign_control(campaign=campaign, action="start")
    tick(campaign, django_capture_on_commit_callbacks, TUESDAY_10)
    recipient = campaign.recipients.get(phone=NUMBERS[0])
    assert recipient.session.phone_call.voicemail_action == "hang_up"
    with django_capture_on_commit_callbacks(execute=True):
        assert services.call_voicemail(session=recipient.session)
    recipient.refresh_from_db()
    assert recipient.status == RecipientStatus.VOICEMAIL
    call = recipient.session.phone_call
    call.refresh_from_db()
    assert call.call_status == "voicemail"
    recipient.session.refresh_from_db()
    assert recipient.session.status == SessionStatus.ENDED
    assert not services.call_voicemail(session=recipient.session)
