"""A real Celery worker process on the real Redis broker provisions a session."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app
from sessions_app import services
from sessions_app.models import Session, SessionStatus

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def celery_worker_process(livekit_server):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "LIVEKIT_URL": livekit_server.url,
        "LIVEKIT_API_KEY": livekit_server.state.api_key,
        "LIVEKIT_API_SECRET": livekit_server.state.api_secret,
    }
    # A queue of our own, so no other worker on this Redis (another test run) takes the task.
    queue = f"test-{uuid.uuid4().hex}"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queue,
         "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    try:
        yield worker
    finally:
        app.conf.task_always_eager = True
        app.conf.task_default_queue = "celery"
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


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
            pytest.fail("worker exited:\n" + celery_worker_process.stdout.read())
    if status != SessionStatus.PROVISIONED:
        celery_worker_process.terminate()
        output = celery_worker_process.communicate(timeout=20)[0]
        pytest.fail(f"session still {status}; worker output:\n{output}")
    assert session.room_name in livekit_server.state.rooms
