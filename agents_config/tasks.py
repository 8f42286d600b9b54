"""Celery tasks for agents: thin wrappers that load by id and call a service."""

from __future__ import annotations

from celery import shared_task

from agents_config import services
from agents_config.models import AgentTestRun
from config.logging import set_log_context


@shared_task(acks_late=True)
def run_agent_test_run(run_id: int) -> str:
    """Execute a queued test run (a run already claimed by another worker is left alone)."""
    set_log_context(test_run_id=run_id)
    run = AgentTestRun.objects.select_related("agent__tenant").filter(pk=run_id).first()
    if run is None:
        return "missing"
    set_log_context(tenant_id=run.agent.tenant.slug, agent_id=run.agent.agent_id)
    return services.agent_test_run_execute(run=run).status
