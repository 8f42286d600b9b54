"""Write an agent's configuration document (draft or a published version) as JSON."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from agents_config.models import Agent
from agents_config.selectors import (
    agent_draft_document,
    agent_version_by_label,
    version_export_document,
)


class Command(BaseCommand):
    help = "Export an agent as a JSON configuration document."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("agent_id")
        parser.add_argument("--tenant", required=True, help="Tenant slug.")
        parser.add_argument(
            "--agent-version",
            dest="agent_version",
            help="A published version (default: the draft).",
        )
        parser.add_argument("--output", "-o", help="File to write (default: standard output).")

    def handle(self, *args: Any, **options: Any) -> None:
        agent = (
            Agent.objects.select_related("tenant", "published_version")
            .filter(tenant__slug=options["tenant"], agent_id=options["agent_id"])
            .first()
        )
        if agent is None:
            raise CommandError(f"No agent {options['agent_id']!r} in tenant {options['tenant']!r}.")
        if options["agent_version"]:
            version = agent_version_by_label(agent=agent, version=options["agent_version"])
            if version is None:
                raise CommandError(f"{agent.agent_id} has no version {options['version']!r}.")
            document = version_export_document(version)
        else:
            document = agent_draft_document(agent)
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as handle:
                handle.write(text)
            self.stderr.write(f"Wrote {options['output']}.")
        else:
            self.stdout.write(text, ending="")
