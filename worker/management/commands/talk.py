"""``manage.py talk AGENT_ID``: a text conversation with an agent, without a room."""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from typing import Any

from django.core.management.base import CommandError, CommandParser

from agents_config.contracts import ContractError, parse_document
from agents_config.management.agent_command import AgentCommand
from agents_config.selectors import agent_draft_document, agent_version_by_label
from tenants.platform import json_input


class Command(AgentCommand):
    help = (
        "Talk to an agent in the terminal (text mode): prints the spoken text and the "
        "structured turn. Default: the live published version; --draft for the draft. "
        "Only the conversation (and errors) is printed unless --verbose."
    )

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

        from agents_config.providers import ProviderConfigError, ProviderKeys
        from worker.handoff import HandoffDirectory
        from worker.store import session_secret_values
        from worker.talk import talk
        from worker.tools import session_tool_environment

        keys = ProviderKeys.for_tenant(agent.tenant_id)
        # ``transfer_to_agent`` targets at their published versions, pinned now.
        handoffs = HandoffDirectory.for_text_mode(
            tenant_id=agent.tenant_id, agent_id=agent.agent_id, version=label, document=document
        )
        secrets = session_secret_values(
            agent.tenant_id, [t.document.to_dict() for t in handoffs.targets.values()] + [raw]
        )
        tool_env = session_tool_environment(secrets=secrets, session_id=f"talk-{uuid.uuid4()}")
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
                    tool_env=tool_env,
                    handoffs=handoffs,
                )
            )
        except ProviderConfigError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            logging.disable(logging.NOTSET)
