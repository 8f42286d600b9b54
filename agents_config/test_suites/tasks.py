"""Celery task for test runs: a thin wrapper that loads by id and calls a service."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from django.conf import settings

from agents_config.test_suites import services
from agents_config.test_suites.models import AgentTestRun
from tenants.platform.logging import set_log_context


def time_limit_reason(seconds: float, kind: str) -> str:
    return f"time limit: the run was stopped after {seconds:g} s ({kind} limit)"


class TestRunTask(Task):
    """A test run killed at its hard time limit (the child process is gone) is still
    recorded: Celery calls ``on_failure`` in the worker's main process."""

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any):
        if isinstance(exc, TimeLimitExceeded):
            run_id = args[0] if args else kwargs.get("run_id")
            reason = time_limit_reason(settings.TEST_RUN_TIME_LIMIT, "hard")
            services.agent_test_run_stop(run_id=run_id, reason=reason)


# Registered under the name it had in ``agents_config.tasks``: queued messages still route.
@shared_task(
    name="agents_config.tasks.run_agent_test_run",
    base=TestRunTask,
    acks_late=True,
    soft_time_limit=settings.TEST_RUN_SOFT_TIME_LIMIT,
    time_limit=settings.TEST_RUN_TIME_LIMIT,
)
def run_agent_test_run(run_id: int) -> str:
    """Execute a queued test run (a run already claimed by another worker is left alone).

    No tenant can hold a worker: past ``TEST_RUN_SOFT_TIME_LIMIT`` seconds the run ends
    ``error`` ("time limit"); ``TEST_RUN_TIME_LIMIT`` kills a run that ignores that.
    """
    set_log_context(test_run_id=run_id)
    run = AgentTestRun.objects.select_related("agent__tenant").filter(pk=run_id).first()
    if run is None:
        return "missing"
    set_log_context(tenant_id=run.agent.tenant.slug, agent_id=run.agent.agent_id)
    try:
        return services.agent_test_run_execute(run=run).status
    except SoftTimeLimitExceeded:
        reason = time_limit_reason(settings.TEST_RUN_SOFT_TIME_LIMIT, "soft")
        stopped = services.agent_test_run_stop(run_id=run_id, reason=reason)
        return stopped.status if stopped else "missing"
