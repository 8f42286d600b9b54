"""Sessions in the dashboard: the End-session action, the live view, and the quick start's
expiry (no beat: the sweep runs when a session is created)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from sessions_app import services
from sessions_app.factories import SessionFactory
from sessions_app.models import Session, SessionStatus

pytestmark = pytest.mark.django_db


def test_end_session_action_uses_the_end_service(admin_client, published_agent):
    open_session = SessionFactory(agent=published_agent, status=SessionStatus.ACTIVE)
    done = SessionFactory(agent=published_agent, status=SessionStatus.ENDED)
    response = admin_client.post(
        reverse("admin:sessions_app_session_changelist"),
        {"action": "end_sessions", "_selected_action": [open_session.pk, done.pk]},
        follow=True,
    )
    assert "Ended 1 session(s). 1 already closed." in response.content.decode()
    open_session.refresh_from_db()
    assert open_session.status == SessionStatus.ENDED and open_session.ended_at is not None
    reasons = list(open_session.transitions.values_list("reason", flat=True))
    assert any("ended in the dashboard" in r for r in reasons)


def test_a_viewer_may_not_end_sessions(client, member_factory, published_agent):
    viewer = member_factory(published_agent.tenant, "viewer")
    client.force_login(viewer)
    session = SessionFactory(agent=published_agent, status=SessionStatus.ACTIVE)
    listing = client.get(reverse("admin:sessions_app_session_changelist"))
    assert listing.status_code == 200
    assert "end_sessions" not in listing.content.decode()
    client.post(
        reverse("admin:sessions_app_session_live"), {"session": [str(session.pk)]}, follow=True
    )
    session.refresh_from_db()
    assert session.status == SessionStatus.ACTIVE


def test_live_view_lists_open_sessions_and_flags_stuck_ones(admin_client, published_agent):
    old = timezone.now() - dt.timedelta(minutes=10)
    stuck = SessionFactory(agent=published_agent, status=SessionStatus.PENDING, created_at=old)
    fresh = SessionFactory(agent=published_agent, status=SessionStatus.PENDING)
    active = SessionFactory(agent=published_agent, status=SessionStatus.ACTIVE, created_at=old)
    SessionFactory(agent=published_agent, status=SessionStatus.ENDED)
    response = admin_client.get(reverse("admin:sessions_app_session_live"))
    rows = {row["session"].pk: row for row in response.context["rows"]}
    assert set(rows) == {stuck.pk, fresh.pk, active.pk}
    assert [rows[s.pk]["stuck"] for s in (stuck, fresh, active)] == [True, False, False]
    assert rows[stuck.pk]["age_seconds"] >= 600
    assert response.content.decode().count('class="stuck"') == 1

    admin_client.post(reverse("admin:sessions_app_session_live"), {"session": [str(stuck.pk)]})
    stuck.refresh_from_db()
    assert stuck.status == SessionStatus.ENDED


def test_quick_start_expires_leaked_sessions_on_create(settings, published_agent):
    """Without a broker (no REDIS_URL, no beat) an expired session must not hold a slot."""
    settings.CELERY_BROKER_URL = "memory://"  # the quick start: no REDIS_URL
    tenant = published_agent.tenant
    tenant.max_concurrent_sessions = 1
    tenant.save()
    leaked = SessionFactory(
        agent=published_agent,
        status=SessionStatus.ACTIVE,
        expires_at=timezone.now() - dt.timedelta(minutes=1),
    )
    session = services.session_create(tenant=tenant, agent=published_agent, user_id="u1")
    leaked.refresh_from_db()
    assert leaked.status == SessionStatus.ENDED
    assert Session.objects.filter(pk=session.pk).exists()


def test_with_a_broker_creation_does_not_sweep(settings, published_agent):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    leaked = SessionFactory(
        agent=published_agent,
        status=SessionStatus.ACTIVE,
        expires_at=timezone.now() - dt.timedelta(minutes=1),
    )
    services._expire_without_beat(published_agent.tenant)
    leaked.refresh_from_db()
    assert leaked.status == SessionStatus.ACTIVE  # beat's expire_sessions does it
