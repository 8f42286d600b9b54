"""The reconciler (stuck sessions), task routing to one queue per kind and time limits."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from config.celery import app, route_task, worker_queues
from sessions_app import services, tasks
from sessions_app.models import OPEN_STATUSES, Session, SessionStatus

pytestmark = pytest.mark.django_db


def _session(agent, *, age_seconds: float, status: str = SessionStatus.PENDING) -> Session:
    session = services.session_create(tenant=agent.tenant, agent=agent, user_id="u")
    created = timezone.now() - dt.timedelta(seconds=age_seconds)
    Session.objects.filter(pk=session.pk).update(created_at=created, status=status)
    return Session.objects.get(pk=session.pk)


def test_reconciler_requeues_lost_provisioning_and_fails_stuck_sessions(
    published_agent, livekit_server, settings, django_capture_on_commit_callbacks
):
    settings.SESSION_STUCK_REQUEUE_SECONDS = 120
    settings.SESSION_STUCK_FAIL_SECONDS = 600
    fresh = _session(published_agent, age_seconds=10)
    lost = _session(published_agent, age_seconds=300)
    stuck_pending = _session(published_agent, age_seconds=700)
    stuck_provisioned = _session(published_agent, age_seconds=900, status="provisioned")
    active = _session(published_agent, age_seconds=900, status="active")

    with django_capture_on_commit_callbacks(execute=True):
        outcome = tasks.reconcile_sessions.delay().get()

    assert outcome == {"failed": 2, "requeued": 1}
    status = dict(Session.objects.values_list("pk", "status"))
    assert status[fresh.pk] == SessionStatus.PENDING  # its task may still be on its way
    assert status[lost.pk] == SessionStatus.PROVISIONED  # re-queued, provisioned by the fake
    assert lost.room_name in livekit_server.state.rooms
    assert status[active.pk] == SessionStatus.ACTIVE
    expected = {
        stuck_pending: "Provisioning did not complete within 600 s",
        stuck_provisioned: "No agent joined the room within 600 s",
    }
    for session, reason in expected.items():
        session.refresh_from_db()
        assert session.status == SessionStatus.FAILED and session.ended_at is not None
        assert session.failure_reason.startswith(reason)
        last = session.transitions.last()
        assert (last.from_status, last.to_status) == (
            "pending" if session is stuck_pending else "provisioned",
            "failed",
        )
        assert hasattr(session, "report")  # the report task was queued for failed sessions
    # Slots are free: only the fresh, re-provisioned and active sessions stay open.
    assert Session.objects.filter(status__in=OPEN_STATUSES).count() == 3
    # A second pass finds nothing more to fail.
    assert services.sessions_reconcile()["failed"] == 0


def test_reconciler_is_scheduled_every_minute():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="sessions_app.tasks.reconcile_sessions")
    assert task.enabled and task.interval.every == 60


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("sessions_app.tasks.provision_session_room", "provisioning"),
        ("sessions_app.tasks.reconcile_sessions", "provisioning"),
        ("sessions_app.tasks.build_session_report", "reports"),
        ("tenants.tasks.deliver_webhook", "webhooks"),
        ("agents_config.tasks.run_agent_test_run", "test_runs"),
    ],
)
def test_each_kind_of_task_has_its_queue_and_time_limits(task, queue, settings):
    assert route_task(task, (), {}, {}) == {"queue": queue}
    settings.CELERY_QUEUE_PREFIX = "staging-"
    assert route_task(task, (), {}, {}) == {"queue": f"staging-{queue}"}
    assert f"staging-{queue}" in worker_queues()
    registered = app.tasks[_import_task(task)]
    soft, hard = settings.TASK_TIME_LIMITS[queue]
    assert (registered.soft_time_limit, registered.time_limit) == (soft, hard)
    assert registered.acks_late and app.conf.task_reject_on_worker_lost


def _import_task(name: str) -> str:
    """Load the task modules as a worker does at start (a moved task keeps its old name, so
    its name need not be its module's path)."""
    app.loader.import_default_modules()
    return name


def test_every_routed_name_is_a_real_task(settings):
    for name in settings.TASK_QUEUES:
        assert _import_task(name) in app.tasks, name


def test_unlisted_tasks_use_the_default_queue(settings):
    assert route_task("some.other.task", (), {}, {}) is None
    settings.CELERY_TASK_DEFAULT_QUEUE = "mine"
    assert worker_queues()[-1] == "mine"


def test_soft_time_limit_during_provisioning_is_retried_then_fails(
    published_agent, livekit_server, monkeypatch
):
    from celery.exceptions import SoftTimeLimitExceeded

    calls = []

    def too_slow(*args, **kwargs):
        calls.append(1)
        raise SoftTimeLimitExceeded()

    session = services.session_create(
        tenant=published_agent.tenant, agent=published_agent, user_id="u"
    )
    monkeypatch.setattr("sessions_app.livekit.ensure_room_with_agent", too_slow)
    app.conf.task_eager_propagates = False  # eager retries run inline
    try:
        tasks.provision_session_room.apply(args=[str(session.pk)])
    finally:
        app.conf.task_eager_propagates = True
    session.refresh_from_db()
    assert len(calls) == tasks.PROVISION_MAX_RETRIES + 1
    assert session.status == SessionStatus.FAILED
    assert "Provisioning failed" in session.failure_reason
