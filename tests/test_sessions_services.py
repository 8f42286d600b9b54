"""Sessions: quotas, overrides, provisioning against a fake LiveKit server, expiry, beat."""

from __future__ import annotations

import datetime as dt
import json
import threading

import jwt
import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from agents_config.contracts import ContractError
from agents_config.services import agent_set_enabled
from sessions_app import services, tasks
from sessions_app.livekit import participant_token
from sessions_app.models import QuotaKind, Session, SessionStatus, UsageCounter
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def create(tenant, **kwargs):
    kwargs.setdefault("agent_id", "visa-interview-officer")
    kwargs.setdefault("user_id", "alice")
    return services.session_create(tenant=tenant, **kwargs)


def test_session_pins_the_live_version_and_is_provisioned(
    published_agent, livekit_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        session = create(published_agent.tenant, user_details={"applicant_name": "Ana"})
    session.refresh_from_db()
    assert session.status == SessionStatus.PROVISIONED
    assert session.version_label == "1.0.0"
    assert session.agent_version == published_agent.published_version
    assert [t.to_status for t in session.transitions.all()] == ["pending", "provisioned"]
    room = livekit_server.state.rooms[session.room_name]
    assert json.loads(room.metadata) == {
        "session_id": str(session.id),
        "agent_id": "visa-interview-officer",
        "version": "1.0.0",
        "tenant_id": published_agent.tenant.slug,
    }
    assert room.empty_timeout == 300 and room.max_participants == 2
    [dispatch] = livekit_server.state.dispatches[session.room_name]
    assert dispatch.agent_name == "voice-agent"
    assert json.loads(dispatch.metadata)["session_id"] == str(session.id)
    assert livekit_server.state.auth_errors == []


def test_provisioning_twice_creates_one_room_and_one_dispatch(published_agent, livekit_server):
    session = create(published_agent.tenant)  # on_commit never fires inside a test transaction
    Session.objects.filter(pk=session.pk).update(status=SessionStatus.PENDING)
    assert tasks.provision_session_room.apply(args=[str(session.id)]).get() == "provisioned"
    Session.objects.filter(pk=session.pk).update(status=SessionStatus.PENDING)
    tasks.provision_session_room.apply(args=[str(session.id)]).get()
    assert len(livekit_server.state.rooms) == 1
    assert len(livekit_server.state.dispatches[session.room_name]) == 1
    assert tasks.provision_session_room.apply(args=[str(session.id)]).get() == "skipped"


@pytest.fixture
def eager_retries():
    """Let eager retries run inline instead of propagating the Retry signal."""
    from config.celery import app

    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = True


def test_transient_errors_are_retried_then_the_session_fails(
    published_agent, livekit_server, eager_retries
):
    session = create(published_agent.tenant)
    livekit_server.state.fail_next = 2
    tasks.provision_session_room.apply(args=[str(session.id)])  # eager: retries run inline
    session.refresh_from_db()
    assert session.status == SessionStatus.PROVISIONED
    assert livekit_server.state.calls[:3] == ["RoomService/CreateRoom"] * 3

    second = create(published_agent.tenant, user_id="bob")
    livekit_server.state.fail_next = 100
    tasks.provision_session_room.apply(args=[str(second.id)])
    second.refresh_from_db()
    assert second.status == SessionStatus.FAILED
    assert "unavailable" in second.failure_reason
    assert livekit_server.state.fail_next == 100 - (tasks.PROVISION_MAX_RETRIES + 1)


def test_participant_token_contents(livekit_server, settings):
    token = participant_token(identity="alice", room_name="va-room")
    claims = jwt.decode(token, livekit_server.state.api_secret, algorithms=["HS256"])
    assert claims["sub"] == "alice" and claims["iss"] == livekit_server.state.api_key
    assert claims["video"]["roomJoin"] is True and claims["video"]["room"] == "va-room"
    assert claims["exp"] - claims["nbf"] == settings.LIVEKIT_TOKEN_TTL_SECONDS


def test_disabled_or_unpublished_agents_are_refused(agent, livekit_server):
    with pytest.raises(services.SessionRejected, match="no published version"):
        create(agent.tenant)
    from agents_config.services import agent_publish

    agent_publish(agent=agent)
    agent_set_enabled(agent=agent, enabled=False)
    with pytest.raises(services.SessionRejected, match="disabled"):
        create(agent.tenant)
    with pytest.raises(services.SessionRejected) as info:
        create(agent.tenant, agent_id="nope")
    assert info.value.status == 404
    assert not Session.objects.exists()


def test_overrides_are_whitelisted_and_validated(published_agent, livekit_server):
    tenant = published_agent.tenant
    session = create(
        tenant,
        overrides={
            "tts_config": {"voice": "nova"},
            "prompt_config": {"dynamic_vars": {"applicant_name": "Ana"}},
        },
    )
    assert session.overrides["tts_config"] == {"voice": "nova"}
    cases = [
        ({"llm_config": {"api_key": "sk-x"}}, "overrides.llm_config.api_key"),
        ({"tts_config": {"voice": "robot"}}, "overrides.tts_config.voice"),
        ({"llm_config": {"temperature": 9}}, "overrides.llm_config.temperature"),
        ({"prompt_config": {"dynamic_vars": {"x": 1}}}, "overrides.prompt_config.dynamic_vars"),
        ({"tenant_config": {"quotas": {}}}, "overrides.tenant_config.quotas"),
        ("nope", "overrides"),
    ]
    for overrides, path in cases:
        with pytest.raises(ContractError) as info:
            create(tenant, overrides=overrides)
        assert path in info.value.errors, info.value.errors
    assert Session.objects.count() == 1


def test_quota_errors_name_the_quota(published_agent, livekit_server):
    tenant = published_agent.tenant
    Tenant.objects.filter(pk=tenant.pk).update(max_concurrent_sessions=1)
    first = create(tenant)
    with pytest.raises(services.QuotaExceeded) as info:
        create(tenant, user_id="bob")
    assert info.value.quota == "max_concurrent_sessions" and info.value.limit == 1
    services.session_end(session=first)
    create(tenant, user_id="bob")  # the slot was freed

    Tenant.objects.filter(pk=tenant.pk).update(
        max_concurrent_sessions=None, max_sessions_per_month=2
    )
    with pytest.raises(services.QuotaExceeded) as info:
        create(tenant, user_id="carol")
    assert info.value.quota == "max_sessions_per_month"
    assert info.value.reset_at.day == 1 and info.value.reset_at > timezone.now()


def test_per_user_quota_applies_with_user_isolation(published_agent, livekit_server):
    tenant = published_agent.tenant
    Tenant.objects.filter(pk=tenant.pk).update(
        isolation_level="user", max_sessions_per_user_per_month=1
    )
    create(tenant, user_id="alice")
    with pytest.raises(services.QuotaExceeded, match="per_user"):
        create(tenant, user_id="alice")
    create(tenant, user_id="bob")


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_requests_against_a_quota_of_ten(published_agent, livekit_server):
    tenant = published_agent.tenant
    Tenant.objects.filter(pk=tenant.pk).update(max_concurrent_sessions=10)
    results: list[str] = []
    barrier = threading.Barrier(50)

    def attempt(index: int) -> None:
        barrier.wait()
        try:
            create(tenant, user_id=f"user-{index}")
            results.append("created")
        except services.QuotaExceeded as exc:
            results.append(exc.quota)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("created") == 10
    assert results.count("max_concurrent_sessions") == 40
    assert Session.objects.filter(tenant=tenant).count() == 10
    counter = UsageCounter.objects.get(tenant=tenant, kind=QuotaKind.TENANT_MONTH)
    assert counter.sessions_started == 10


def test_expiry_sweep_ends_sessions_and_deletes_rooms(
    published_agent, livekit_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        session = create(published_agent.tenant)
    assert session.room_name in livekit_server.state.rooms
    Session.objects.filter(pk=session.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    fresh = create(published_agent.tenant, user_id="bob")
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.expire_sessions.apply().get() == 1
    session.refresh_from_db()
    fresh.refresh_from_db()
    assert session.status == SessionStatus.ENDED and session.ended_at is not None
    assert fresh.status != SessionStatus.ENDED
    assert session.room_name not in livekit_server.state.rooms


def test_monthly_reset_keeps_history(published_agent, livekit_server):
    tenant = published_agent.tenant
    create(tenant)
    last_month = timezone.now().date().replace(day=1) - dt.timedelta(days=1)
    UsageCounter.objects.filter(tenant=tenant).update(period_start=last_month.replace(day=1))
    assert tasks.reset_monthly_quotas.apply().get() >= 1
    counters = UsageCounter.objects.filter(tenant=tenant, kind=QuotaKind.TENANT_MONTH)
    assert sorted(c.sessions_started for c in counters) == [0, 1]


def test_month_period_uses_the_tenant_time_zone(tenant):
    tenant.time_zone = "Pacific/Auckland"
    now = dt.datetime(2026, 1, 31, 12, 0, tzinfo=dt.UTC)  # already 1 February in Auckland
    first, reset_at = services.month_period(tenant, now)
    assert first == dt.date(2026, 2, 1)
    assert reset_at.date() == dt.date(2026, 3, 1)


def test_beat_schedules_exist():
    from django_celery_beat.models import PeriodicTask

    names = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {
        "sessions_app.tasks.expire_sessions",
        "sessions_app.tasks.reset_monthly_quotas",
    } <= names


def test_status_changes_and_reports_emit_events(
    published_agent, livekit_server, django_capture_on_commit_callbacks
):
    from sessions_app.events import session_report_ready, session_status_changed

    seen: list[tuple[str, str]] = []

    def on_status(**kwargs):
        seen.append((kwargs["from_status"], kwargs["to_status"]))

    def on_report(**kwargs):
        seen.append(("report", kwargs["session_id"]))

    session_status_changed.connect(on_status)
    session_report_ready.connect(on_report)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            session = create(published_agent.tenant)
        with django_capture_on_commit_callbacks(execute=True):
            services.session_end(session=session, reason="done")
    finally:
        session_status_changed.disconnect(on_status)
        session_report_ready.disconnect(on_report)
    assert seen[:3] == [("", "pending"), ("pending", "provisioned"), ("provisioned", "ended")]
    assert ("report", str(session.id)) in seen
