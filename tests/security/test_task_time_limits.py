"""A real Celery worker (prefork, one child) stops a test run at its soft time limit, records
it as ``error`` ("time limit") and then takes the next task; the hard limit is recorded too."""

from __future__ import annotations

import time

import pytest
from celery.exceptions import TimeLimitExceeded

from agents_config.services import agent_update_sections
from agents_config.test_suites.models import AgentTestRun, SuiteRunStatus
from agents_config.test_suites.services import agent_test_case_create, agent_test_run_start
from agents_config.test_suites.tasks import run_agent_test_run
from config.celery import app
from tests.fakes.openai_server import FakeOpenAI, Reply, last_user_message
from tests.worker.conftest import demo_turn

pytestmark = pytest.mark.django_db(transaction=True)

SOFT_LIMIT_SECONDS = 3


@pytest.fixture
def celery_worker_env():
    return {
        "OPENAI_API_KEY": "sk-test",
        "TEST_RUN_SOFT_TIME_LIMIT": str(SOFT_LIMIT_SECONDS),
        "TEST_RUN_TIME_LIMIT": "30",
    }


@pytest.fixture
def celery_worker_args():
    return ["--pool=prefork", "--concurrency=1"]  # the solo pool has no time limits


@pytest.fixture
def slow_agent(agent, settings):
    """The demo agent on a fake OpenAI server: "slow" takes a minute to answer, "fast" does not."""
    settings.OPENAI_API_KEY = "sk-test"
    with FakeOpenAI() as server:

        def script(body):
            if last_user_message(body) == "slow":
                return Reply(demo_turn("Let me think. " * 30), token_size=1, token_delay=0.2)
            return demo_turn("Right away.")

        server.script = script
        llm = dict(agent.llm_config, base_url=server.base_url)
        agent = agent_update_sections(agent=agent, partial={"llm_config": llm})
        for name in ("slow", "fast"):
            agent_test_case_create(
                agent=agent,
                name=name,
                turns=[{"user": name, "expect": [{"kind": "spoken_contains", "value": "Right"}]}],
            )
        yield agent


def _wait_finished(run_id: int, worker, timeout: float) -> AgentTestRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = AgentTestRun.objects.get(pk=run_id)
        if run.status not in (SuiteRunStatus.QUEUED, SuiteRunStatus.RUNNING):
            return run
        if worker.poll() is not None:
            pytest.fail("worker exited:\n" + worker.output())
        time.sleep(0.1)
    pytest.fail(f"run {run_id} still {run.status}; worker output:\n{worker.output()}")


def test_slow_run_is_stopped_at_its_soft_limit_and_the_worker_goes_on(
    slow_agent, celery_worker_process
):
    app.connection_for_write().ensure_connection(max_retries=3)
    slow = agent_test_run_start(agent=slow_agent, case_name="slow")  # enqueued on commit
    fast = agent_test_run_start(agent=slow_agent, case_name="fast")

    stopped = _wait_finished(slow.pk, celery_worker_process, timeout=90)  # worker start-up
    assert stopped.status == SuiteRunStatus.ERROR, stopped.error
    assert "time limit" in stopped.error and "soft" in stopped.error
    ran_for = (stopped.finished_at - stopped.started_at).total_seconds()
    assert ran_for < SOFT_LIMIT_SECONDS + 10  # stopped, not left to finish (it needs a minute)

    after = _wait_finished(fast.pk, celery_worker_process, timeout=60)
    assert after.status == SuiteRunStatus.PASSED, (after.error, celery_worker_process.output())


def test_a_run_killed_at_the_hard_limit_is_recorded(slow_agent, settings):
    """Celery calls ``on_failure`` in the worker's main process after killing the child."""
    run = agent_test_run_start(agent=slow_agent, case_name="slow", enqueue=False)
    AgentTestRun.objects.filter(pk=run.pk).update(status=SuiteRunStatus.RUNNING)
    run_agent_test_run.on_failure(TimeLimitExceeded(31), "task-id", (run.pk,), {}, None)
    run.refresh_from_db()
    assert run.status == SuiteRunStatus.ERROR
    assert "time limit" in run.error and "hard" in run.error
