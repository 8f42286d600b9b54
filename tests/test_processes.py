"""The Procfile's processes, started with honcho as in production, come up healthy.

web (gunicorn + WhiteNoise) answers /readyz on PostgreSQL and Redis, a Celery worker
consumes its routed queue (a task round trip), beat starts, and the agent worker (pointed at a
LiveKit URL where nothing listens) serves its health endpoint. The quick start's mode (DEBUG,
SQLite, eager tasks) runs the same web server and serves static files too.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
# What the test settings put into this process's environment is not for the processes.
INHERITED = {
    "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG",
    "SECURE_SSL_REDIRECT", "SECRETS_ENCRYPTION_KEY", "CELERY_TASK_DEFAULT_QUEUE",
}  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, host: str = "127.0.0.1", **headers: str) -> tuple[int, bytes, dict[str, str]]:
    """One GET (redirects are not followed), with the given Host header."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        connection.request(
            "GET", parts.path, headers={"Host": host, "Accept-Encoding": "gzip", **headers}
        )
        response = connection.getresponse()
        return response.status, response.read(), dict(response.headers)
    finally:
        connection.close()


def wait_for(check: Callable[[], bool], what: str, output: Callable[[], str], timeout=90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{what} not ready after {timeout} s; output:\n{output()}")


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in INHERITED}
    return {
        **clean,
        "PATH": f"{VENV_BIN}{os.pathsep}{clean.get('PATH', '')}",  # `python` is the venv's
        "PYTHONUNBUFFERED": "1",
        "STATIC_ROOT": str(tmp_path / "static"),
        "WEB_HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "2",
        **extra,
    }


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.django_db(transaction=True)
def test_procfile_processes_start_healthy_under_honcho(tmp_path, settings):
    from django.db import connection

    from config.celery import app

    db = connection.settings_dict
    prefix = f"test-{uuid.uuid4().hex}-"
    port, agent_port = free_port(), free_port()
    env = base_env(
        tmp_path,
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        REDIS_URL=settings.REDIS_URL,
        SECRET_KEY="procfile-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        SECRETS_ENCRYPTION_KEY=settings.SECRETS_ENCRYPTION_KEY,
        DEBUG="0",
        ALLOWED_HOSTS="agents.example.com",
        CELERY_QUEUE_PREFIX=prefix,
        CELERY_TASK_DEFAULT_QUEUE=f"{prefix}celery",
        CELERY_CONCURRENCY="1",
        DATABASE_POOL_MAX_SIZE="2",
        LIVEKIT_URL=f"ws://127.0.0.1:{free_port()}",  # nothing listens: the worker keeps retrying
        LIVEKIT_API_KEY="devkey",
        LIVEKIT_API_SECRET="devsecret-0123456789abcdef-0123456789",
        AGENT_HEALTH_PORT=str(agent_port),
        AGENT_NUM_IDLE_PROCESSES="0",
    )
    (tmp_path / "empty.env").write_text("")
    log_path = tmp_path / "honcho.log"
    with log_path.open("w") as log:
        honcho = subprocess.Popen(
            [str(VENV_BIN / "honcho"), "start", "-e", str(tmp_path / "empty.env"),
             "-f", str(ROOT / "Procfile"), "-d", str(ROOT), "--no-colour", "-p", str(port),
             "web", "worker_provisioning", "beat", "agent"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    output = log_path.read_text
    try:
        base = f"http://127.0.0.1:{port}"
        # web: readiness over plain HTTP with a Host that is not in ALLOWED_HOSTS (a probe).
        wait_for(lambda: get(f"{base}/readyz", host="10.0.0.7")[0] == 200, "web", output)
        body = json.loads(get(f"{base}/readyz", host="10.0.0.7")[1])
        assert body["checks"] == {"database": "ok", "redis": "ok", "broker": "ok"}
        # Everything else is redirected to HTTPS; static files come hashed and compressed.
        assert get(f"{base}/admin/", host="agents.example.com")[0] == 301
        manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())
        hashed = manifest["paths"]["admin/css/base.css"]
        # (behind the TLS-terminating proxy, which says so in X-Forwarded-Proto)
        status, _, headers = get(
            f"{base}/static/{hashed}", host="agents.example.com", **{"X-Forwarded-Proto": "https"}
        )
        assert status == 200 and headers.get("Content-Encoding") == "gzip"
        assert "immutable" in headers.get("Cache-Control", "")

        # Celery worker: a task routed to the provisioning queue makes the round trip.
        app.conf.task_always_eager = False  # results come from the worker, through Redis
        try:
            result = app.send_task(
                "sessions_app.tasks.reconcile_sessions", queue=f"{prefix}provisioning"
            )
            assert result.get(timeout=60, disable_sync_subtasks=False) == {
                "failed": 0,
                "requeued": 0,
            }
        finally:
            app.conf.task_always_eager = True

        # beat (exactly one process) and the agent worker's health endpoint.
        wait_for(lambda: "beat: Starting..." in output(), "beat", output)
        agent = f"http://127.0.0.1:{agent_port}"
        wait_for(lambda: get(f"{agent}/worker")[0] == 200, "agent worker", output)
        assert json.loads(get(f"{agent}/worker")[1])["agent_name"] == "voice-agent"
    finally:
        stop(honcho)
    assert "Booting worker with pid" in output()  # gunicorn
    assert "gthread" in output()


def test_quick_start_mode_serves_the_app_and_static_files_on_sqlite(tmp_path):
    """DEBUG=1, SQLite and no broker, as .ci/quickstart runs it: same entry point and server."""
    port = free_port()
    env = base_env(tmp_path, DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'quick.sqlite3'}",
                   PORT=str(port))  # fmt: skip
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, cwd=ROOT, check=True,
                   capture_output=True, timeout=180)  # fmt: skip
    log_path = tmp_path / "web.log"
    with log_path.open("w") as log:
        web = subprocess.Popen(
            [sys.executable, "-m", "config.processes", "web"], cwd=ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: get(f"{base}/readyz")[0] == 200, "web", log_path.read_text)
        assert json.loads(get(f"{base}/readyz")[1])["checks"] == {"database": "ok"}
        static = ["admin/css/base.css", "playground/playground.js",
                  "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"]  # fmt: skip
        for path in (f"/static/{name}" for name in static):
            assert get(f"{base}{path}")[0] == 200, path
        status, page, _ = get(f"{base}/api/docs/")
        assert status == 200 and b"/static/drf_spectacular_sidecar/" in page
    finally:
        stop(web)
    assert "gunicorn" in log_path.read_text().lower()
