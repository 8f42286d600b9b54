"""Create or update an agent from an exported JSON configuration document."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from agents_config.contracts import ContractError
from agents_config.services import AgentConflict, agent_import
from tenants.actors import Actor
from tenants.models import Tenant
from tenants.platform import json_input


class Command(BaseCommand):
    help = "Import an agent configuration document (JSON file, or - for standard input)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file")
        parser.add_argument("--tenant", required=True, help="Tenant slug.")
        parser.add_argument("--replace", action="store_true", help="Update an existing agent.")
        parser.add_argument("--publish", action="store_true", help="Publish after importing.")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant {options['tenant']!r}.")
        try:
            if options["file"] == "-":
                text = sys.stdin.read()
            else:
                with open(options["file"], encoding="utf-8") as handle:
                    text = handle.read()
            data = json_input.loads(text)
        except OSError as exc:
            raise CommandError(f"Cannot read {options['file']}: {exc.strerror}.") from None
        except json_input.UnsafeJSON as exc:
            raise CommandError(f"{options['file']} is not accepted: {exc}.") from None
        except ValueError as exc:  # not JSON, or not UTF-8
            raise CommandError(f"{options['file']} is not valid JSON: {exc}.") from None
        try:
            agent = agent_import(
                tenant=tenant,
                data=data,
                actor=Actor.command("import_agent"),
                replace=options["replace"],
                publish=options["publish"],
            )
        except ContractError as exc:
            lines = [
                f"  {path or 'document'}: {' '.join(msgs)}" for path, msgs in exc.errors.items()
            ]
            raise CommandError("Invalid document:\n" + "\n".join(lines)) from None
        except AgentConflict as exc:
            raise CommandError(str(exc)) from None
        live = agent.published_version.version if agent.published_version else "unpublished"
        self.stdout.write(self.style.SUCCESS(f"Imported {agent.agent_id} ({live})."))
