"""``manage.py talk AGENT_ID``: a text conversation with an agent, without a room."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents_config import json_input
from agents_config.contracts import ContractError, parse_document
from agents_config.models import Agent
from agents_config.selectors import agent_draft_document, agent_version_by_label


class Command(BaseCommand):
    help = (
        "Talk to an agent in the terminal (text mode): prints the spoken text and the "
        "structured turn. Default: the live published version; --draft for the draft. "
        "Only the conversation (and errors) is printed unless --verbose."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # ``--version`` names the agent version here, replacing Django's own --version flag.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("agent_id")
        parser.add_argument("--tenant", help="Tenant slug (required if the agent_id is ambiguous).")
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--version", dest="agent_version", help="A published version, e.g. 1.2.0."
        )
        group.add_argument("--draft", action="store_true", help="Talk to the unpublished draft.")
        parser.add_argument(
            "--user-details", default="{}", help='JSON object, e.g. \'{"applicant_name": "Ana"}\'.'
        )
        parser.add_argument(
            "--verbose",
            action="store_true",
            help="Also print the log lines (HTTP requests, livekit-agents, warnings).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        agent = self._agent(options["agent_id"], options["tenant"])
        try:
            user_details = json_input.loads(options["user_details"])
        except ValueError as exc:
            raise CommandError(f"--user-details is not valid JSON: {exc}") from exc
        if not isinstance(user_details, dict):
            raise CommandError("--user-details must be a JSON object.")

        if options["draft"]:
            raw, label = agent_draft_document(agent), "draft"
        else:
            if options["agent_version"]:
                version = agent_version_by_label(agent=agent, version=options["agent_version"])
                if version is None:
                    raise CommandError(
                        f"{agent.agent_id} has no version {options['agent_version']}."
                    )
            else:
                version = agent.published_version
                if version is None:
                    raise CommandError(f"{agent.agent_id} has no published version; use --draft.")
            raw, label = version.document, version.version
        try:
            document = parse_document(raw)
        except ContractError as exc:
            raise CommandError(f"The configuration is invalid: {exc}") from exc

        from worker.factory import ProviderConfigError, ProviderKeys
        from worker.handoff import HandoffDirectory
        from worker.store import mcp_secret_values
        from worker.talk import talk

        keys = ProviderKeys.for_tenant(agent.tenant_id)
        # ``transfer_to_agent`` targets at their published versions, pinned now.
        handoffs = HandoffDirectory.for_text_mode(
            tenant_id=agent.tenant_id, agent_id=agent.agent_id, version=label, document=document
        )
        secrets = mcp_secret_values(
            agent.tenant_id, [t.document.to_dict() for t in handoffs.targets.values()] + [raw]
        )
        self.stdout.write(
            f"Talking to {agent.agent_id}@{label} (tenant {agent.tenant.slug}). "
            "End with Ctrl-D or /quit."
        )

        def read_line() -> str | None:
            line = sys.stdin.readline()
            return line if line else None

        self.stdout.ending = ""  # talk() writes whole lines and the prompt itself
        if not options["verbose"]:
            # The terminal is the conversation: no request lines or library warnings.
            logging.disable(logging.WARNING)
        try:
            asyncio.run(
                talk(
                    document=document,
                    version=label,
                    keys=keys,
                    user_details=user_details,
                    read_line=read_line,
                    out=self.stdout,
                    handoffs=handoffs,
                    secrets=secrets,
                )
            )
        except ProviderConfigError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            logging.disable(logging.NOTSET)

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
