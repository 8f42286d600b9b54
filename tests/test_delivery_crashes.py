"""Provisioning survives a worker killed mid-task (real Celery worker on the real Redis broker).

The fake LiveKit server stalls CreateRoom, so the worker is inside ``provision_session_room``
when it is killed with SIGKILL. Acks-late with reject-on-worker-lost requeues the message when a
pool process dies; when the worker's main process dies, Redis hands the unacknowledged message
to another worker after the visibility timeout. Either way the session ends provisioned.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from config.celery import app
from sessions_app import services
from sessions_app.models import Session, SessionStatus

pytestmark = pytest.mark.django_db(transaction=True)

VISIBILITY_TIMEOUT = 3


@pytest.fixture
def celery_worker_env(livekit_server):
    return {
        "LIVEKIT_URL": livekit_server.url,
        "LIVEKIT_API_KEY": livekit_server.state.api_key,
        "LIVEKIT_API_SECRET": livekit_server.state.api_secret,
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        # A short visibility timeout must stay above the longest retry countdown.
        "WEBHOOK_RETRY_BASE_SECONDS": "0.1",
        "SESSION_PROVISION_RETRY_BASE_SECONDS": "0.1",
    }


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def _start_stalled_session(agent, livekit_server) -> Session:
    livekit_server.state.stall_create_room = 1
    app.connection_for_write().ensure_connection(max_retries=3)
    session = services.session_create(tenant=agent.tenant, agent_id=agent.agent_id, user_id="u")
    assert livekit_server.state.stalled.wait(timeout=60), "CreateRoom never arrived"
    return session


def _wait_until_settled(session: Session, workers, timeout: float = 60) -> Session:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = Session.objects.get(pk=session.pk)
        if current.status not in (SessionStatus.PENDING,):
            return current
        time.sleep(0.2)
    logs = "\n".join(worker.output() for worker in workers)
    pytest.fail(f"session still pending after {timeout} s; worker output:\n{logs}")


@pytest.mark.parametrize("celery_worker_args", [["--pool=prefork", "--concurrency=1"]])
def test_killed_pool_process_requeues_the_task(
    published_agent, livekit_server, celery_worker_process
):
    session = _start_stalled_session(published_agent, livekit_server)
    (child,) = _children(celery_worker_process.pid)
    os.kill(child, signal.SIGKILL)
    livekit_server.state.release.set()  # the killed call's connection is gone anyway
    settled = _wait_until_settled(session, [celery_worker_process])
    assert settled.status == SessionStatus.PROVISIONED, settled.failure_reason
    assert "WorkerLostError" in celery_worker_process.output()
    assert livekit_server.state.calls.count("RoomService/CreateRoom") == 2
    assert session.room_name in livekit_server.state.rooms


def test_killed_worker_main_process_is_redelivered_after_the_visibility_timeout(
    published_agent, livekit_server, celery_worker_process
):
    session = _start_stalled_session(published_agent, livekit_server)
    killed_at = time.monotonic()
    celery_worker_process.send_signal(signal.SIGKILL)  # --pool=solo: the task runs in it
    celery_worker_process.wait(timeout=10)
    livekit_server.state.release.set()
    assert Session.objects.get(pk=session.pk).status == SessionStatus.PENDING
    replacement = celery_worker_process.spawn_another()
    settled = _wait_until_settled(session, [celery_worker_process, replacement])
    assert settled.status == SessionStatus.PROVISIONED, settled.failure_reason
    assert time.monotonic() - killed_at >= VISIBILITY_TIMEOUT
    assert session.room_name in livekit_server.state.rooms
