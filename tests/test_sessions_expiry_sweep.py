"""The expiry sweep is set-based: a constant number of queries however many sessions expire."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from agents_config.factories import make_agent
from sessions_app import services
from sessions_app.factories import SessionFactory
from sessions_app.models import Session, SessionStatus, SessionTransition

pytestmark = pytest.mark.django_db


def test_sweep_ends_many_sessions_in_a_few_queries(
    tenant, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    agent = make_agent(tenant=tenant)
    past = timezone.now() - dt.timedelta(minutes=1)
    expired = [
        SessionFactory(agent=agent, status=status, expires_at=past, room_name=f"va-room-{i}")
        for i, status in enumerate([SessionStatus.PENDING, SessionStatus.ACTIVE] * 30)
    ]
    fresh = SessionFactory(
        agent=agent, status=SessionStatus.ACTIVE, expires_at=timezone.now() + dt.timedelta(hours=1)
    )
    done = SessionFactory(agent=agent, status=SessionStatus.ENDED, expires_at=past)
    with (
        django_capture_on_commit_callbacks(execute=False) as callbacks,
        django_assert_max_num_queries(6),
    ):
        assert services.sessions_expire() == 60
    # One follow-up per batch (reports, room deletions) plus a status event per session.
    assert len(callbacks) == 61
    ended = Session.objects.filter(pk__in=[s.pk for s in expired])
    assert set(ended.values_list("status", flat=True)) == {SessionStatus.ENDED}
    assert ended.filter(ended_at__isnull=True).count() == 0
    transitions = SessionTransition.objects.filter(reason="expired", to_status="ended")
    assert transitions.count() == 60
    assert set(transitions.values_list("from_status", flat=True)) == {"pending", "active"}
    fresh.refresh_from_db()
    done.refresh_from_db()
    assert fresh.status == SessionStatus.ACTIVE and done.status == SessionStatus.ENDED
    assert services.sessions_expire() == 0
