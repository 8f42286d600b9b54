"""The base of the commands that take an ``AGENT_ID`` (``test_agent`` here, ``talk`` in the
worker): one agent lookup and ``--version`` naming the agent version, not Django's flag."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents_config.models import Agent


class AgentCommand(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # ``--version`` names the agent version here, replacing Django's own --version flag.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def _agent(self, agent_id: str, tenant: str | None) -> Agent:
        agents = Agent.objects.select_related("tenant", "published_version").filter(
            agent_id=agent_id
        )
        if tenant:
            agents = agents.filter(tenant__slug=tenant)
        found = list(agents[:2])
        if not found:
            raise CommandError(
                f"No agent {agent_id!r}" + (f" in tenant {tenant!r}." if tenant else ".")
            )
        if len(found) > 1:
            raise CommandError(f"Several tenants have an agent {agent_id!r}; pass --tenant SLUG.")
        return found[0]
