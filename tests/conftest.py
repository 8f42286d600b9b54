"""Shared fixtures: an owner, a member and an outsider for every isolation test."""

from __future__ import annotations

import pytest

from agents_config.factories import make_agent
from tenants.factories import MembershipFactory, TenantFactory, UserFactory


@pytest.fixture
def tenant(db):
    return TenantFactory()


@pytest.fixture
def other_tenant(db):
    return TenantFactory()


@pytest.fixture
def agent(tenant):
    return make_agent(tenant=tenant)


@pytest.fixture
def superuser(db):
    user = UserFactory(username="root-admin")
    user.is_staff = user.is_superuser = True
    user.save()
    return user


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def member_factory(db):
    """Staff users with a role in a tenant: ``member_factory(tenant, "developer")``."""

    def build(tenant, role):
        user = UserFactory()
        user.is_staff = True
        user.save()
        MembershipFactory(user=user, tenant=tenant, role=role)
        return user

    return build


@pytest.fixture
def livekit_server(settings):
    """A fake LiveKit Twirp server; settings point the platform at it."""
    from tests.fakes.livekit_server import FakeLiveKitServer

    with FakeLiveKitServer() as server:
        settings.LIVEKIT_URL = server.url
        settings.LIVEKIT_API_KEY = server.state.api_key
        settings.LIVEKIT_API_SECRET = server.state.api_secret
        yield server


@pytest.fixture
def published_agent(agent):
    from agents_config.services import agent_publish

    agent_publish(agent=agent, version="1.0.0")
    return agent


@pytest.fixture
def celery_worker_env():
    """Extra environment for ``celery_worker_process`` (override it in a test module)."""
    return {}


@pytest.fixture
def celery_worker_args():
    """Worker options for ``celery_worker_process`` (override for a prefork pool, etc.)."""
    return ["--pool=solo"]


@pytest.fixture
def celery_worker_process(
    request, celery_worker_env, celery_worker_args, settings, tmp_path_factory
):
    """A real Celery worker subprocess on the real Redis broker, on queues of its own.

    Every queue name gets a test-specific prefix (``CELERY_QUEUE_PREFIX``) in this process and
    in the worker, which consumes all of them: routed tasks (provisioning, reports, webhooks,
    test runs) and the default queue reach this worker and no other worker on this Redis.
    The worker uses ``config.settings`` (not ``config.test_settings``, which forces eager
    tasks, so retries would run inline instead of through the broker); the environment the
    test settings filled in is inherited. Parametrize indirectly with a dict to add variables.
    Tests using it need ``django_db(transaction=True)`` so the worker sees their rows.
    """
    import os
    import signal
    import subprocess
    import sys
    import uuid
    from pathlib import Path

    from django.db import connection

    from config.celery import app, worker_queues

    db = connection.settings_dict
    prefix = f"test-{uuid.uuid4().hex}-"  # no other worker on this Redis takes our tasks
    settings.CELERY_QUEUE_PREFIX = prefix
    settings.CELERY_TASK_DEFAULT_QUEUE = f"{prefix}celery"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        # Tasks the worker enqueues itself (a report, then its webhook) stay on our queues.
        "CELERY_QUEUE_PREFIX": prefix,
        "CELERY_TASK_DEFAULT_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "PYTHONUNBUFFERED": "1",  # the log file is complete when a test reads it
        **celery_worker_env,
        **getattr(request, "param", {}),
    }
    workers: list[subprocess.Popen] = []
    log_dir = tmp_path_factory.mktemp("celery-worker")

    def spawn() -> subprocess.Popen:
        """Start a worker; ``worker.spawn_another()`` starts one more on the same queues."""
        # Output goes to a file (a pipe nobody reads could fill up and block the worker);
        # ``worker.output()`` returns it for failure messages.
        log_path = log_dir / f"worker-{len(workers)}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", *celery_worker_args,
                 "-Q", ",".join(worker_queues()),
                 "--hostname", f"{prefix}worker{len(workers)}@%h", "--loglevel=INFO",
                 "--without-gossip", "--without-mingle", "--without-heartbeat"],
                cwd=Path(__file__).resolve().parent.parent, env=env,
                stdout=log, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
        process.output = log_path.read_text
        process.spawn_another = spawn
        workers.append(process)
        return process

    worker = spawn()
    app.conf.task_always_eager = False
    app.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE
    try:
        yield worker
    finally:
        app.conf.task_always_eager = True
        app.conf.task_default_queue = "celery"
        for process in workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in workers:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
