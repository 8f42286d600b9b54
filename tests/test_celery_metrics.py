"""Each Celery worker serves its own task metrics on CELERY_METRICS_PORT, summed over its pool
processes, so workers on hosts other than the web's are scraped too."""

from __future__ import annotations

import socket
import time
import urllib.request
from pathlib import Path

import pytest

from sessions_app.tasks import expire_sessions


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PORT = _free_port()


@pytest.fixture
def celery_worker_env(tmp_path):
    return {
        "CELERY_METRICS_PORT": str(PORT),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }


def _scrape() -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics", timeout=5) as response:
        return response.read().decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("celery_worker_args", [["--pool=prefork", "--concurrency=1"]])
def test_worker_serves_task_outcomes_of_its_pool(celery_worker_process):
    # The task runs in a pool process; the worker's main process serves the sum. (The
    # scrape shows when both ran: no result.get(), which refuses to run inside an eager task
    # that an earlier test may have left on Celery's stack.)
    for _ in range(2):
        expire_sessions.delay()
    wanted = (
        'voiceagents_celery_tasks_total{outcome="success",'
        'task="sessions_app.tasks.expire_sessions"} 2.0'
    )
    deadline = time.monotonic() + 90
    text = ""
    while time.monotonic() < deadline:
        try:
            text = _scrape()
        except OSError:
            text = ""
        if wanted in text:
            break
        if celery_worker_process.poll() is not None:
            pytest.fail("worker exited:\n" + celery_worker_process.output())
        time.sleep(0.3)
    assert wanted in text, text + celery_worker_process.output()


def test_worker_entry_gives_the_worker_a_metrics_directory(monkeypatch, settings):
    """``python -m config.processes worker`` with CELERY_METRICS_PORT: a fresh
    PROMETHEUS_MULTIPROC_DIR of the worker's own, unless one is set."""
    import os

    from config import processes

    started: list[list[str]] = []
    monkeypatch.setattr(processes, "_replace_process", started.append)
    monkeypatch.setattr(processes, "_setup_django", lambda: None)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    settings.CELERY_METRICS_PORT = 9808
    processes.worker(["webhooks"])
    directory = os.environ.pop("PROMETHEUS_MULTIPROC_DIR")
    assert Path(directory).is_dir() and not any(Path(directory).iterdir())
    assert started and "--queues" in started[0]

    settings.CELERY_METRICS_PORT = None
    processes.worker(["webhooks"])
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
