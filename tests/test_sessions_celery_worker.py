"""A real Celery worker process on the real Redis broker provisions a session."""

from __future__ import annotations

import time

import pytest

from config.celery import app
from sessions_app import services
from sessions_app.models import Session, SessionStatus


@pytest.fixture
def celery_worker_env(livekit_server):
    """The worker process talks to the same fake LiveKit server as this test."""
    return {
        "LIVEKIT_URL": livekit_server.url,
        "LIVEKIT_API_KEY": livekit_server.state.api_key,
        "LIVEKIT_API_SECRET": livekit_server.state.api_secret,
    }


@pytest.mark.django_db(transaction=True)
def test_worker_moves_a_session_from_pending_to_provisioned(
    published_agent, livekit_server, celery_worker_process
):
    app.connection_for_write().ensure_connection(max_retries=3)
    session = services.session_create(
        tenant=published_agent.tenant, agent_id=published_agent.agent_id, user_id="alice"
    )
    assert Session.objects.get(pk=session.pk).status == SessionStatus.PENDING
    deadline = time.monotonic() + 60
    status = SessionStatus.PENDING
    while time.monotonic() < deadline and status == SessionStatus.PENDING:
        time.sleep(0.2)
        status = Session.objects.get(pk=session.pk).status
        if celery_worker_process.poll() is not None:
            pytest.fail("worker exited:\n" + celery_worker_process.output())
    if status != SessionStatus.PROVISIONED:
        pytest.fail(f"session still {status}; worker output:\n{celery_worker_process.output()}")
    assert session.room_name in livekit_server.state.rooms
