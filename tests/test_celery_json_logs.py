"""A real Celery worker with LOG_FORMAT=json writes JSON lines carrying the task's id."""

from __future__ import annotations

import json
import logging
import re
import time

import pytest

from sessions_app.tasks import expire_sessions
from tenants.platform.logging import JsonFormatter


@pytest.fixture
def celery_worker_env():
    return {"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}


@pytest.mark.django_db(transaction=True)
def test_worker_logs_are_json_with_the_task_id(celery_worker_process):
    result = expire_sessions.delay()
    deadline = time.monotonic() + 60
    records: list[dict] = []
    while time.monotonic() < deadline:
        lines = [line for line in celery_worker_process.output().splitlines() if line.strip()]
        records = [json.loads(line) for line in lines if line.startswith("{")]
        if any(result.id == r.get("task_id") and "succeeded" in r["message"] for r in records):
            break
        if celery_worker_process.poll() is not None:
            pytest.fail("worker exited:\n" + celery_worker_process.output())
        time.sleep(0.2)
    output = celery_worker_process.output()
    done = [r for r in records if r.get("task_id") == result.id and "succeeded" in r["message"]]
    assert done, output
    assert done[0]["logger"] == "celery.app.trace" and done[0]["level"] == "INFO"
    # No log line in Celery's own format ("[time: INFO/MainProcess] ..."): its handlers are
    # not installed. (The start-up banner is printed, not logged.)
    assert not re.search(r"^\[\d{4}-\d\d-\d\d [^]]*: (INFO|WARNING)/", output, re.M), output
    assert any(r["logger"].startswith("celery") and "ready" in r["message"] for r in records)


def test_structured_extra_fields_are_kept():
    record = logging.LogRecord("livekit.agents", logging.INFO, "", 0, "job started", None, None)
    record.job_id = "AJ_1"
    record.version = "1.8.9"
    payload = json.loads(JsonFormatter().format(record))
    assert payload["extra"] == {"job_id": "AJ_1", "version": "1.8.9"}
