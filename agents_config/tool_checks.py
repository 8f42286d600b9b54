"""Publish-time checks of ``tools_config`` that need the database (the contract checks the
rest: unique names, parameters compiling, URL templates using declared parameters).

* every tenant secret a tool or MCP server names exists;
* every ``transfer_to_agent`` target is another agent of the same tenant with a published
  version.

MCP and HTTP tool URLs pass the outbound-URL policy with the document's other URLs
(``services.agent_outbound_check``).
"""

from __future__ import annotations

from typing import Any

from agents_config.contracts import AgentDocument, ContractError, format_loc, parse_document
from tenants.models import Tenant
from tenants.selectors import tenant_secret_names


def agent_tools_check(*, tenant: Tenant, document: AgentDocument | dict[str, Any]) -> None:
    """Raise ``ContractError`` (field paths under ``tools_config``) when a named secret or a
    handoff target is missing."""
    from agents_config.models import Agent

    if not isinstance(document, AgentDocument):
        document = parse_document(document)
    tools = document.tools_config
    errors: dict[str, list[str]] = {}
    references = tools.secret_references()
    if references:
        stored = tenant_secret_names(tenant_id=tenant.pk)
        for loc, name in references:
            if name not in stored:
                errors.setdefault(format_loc(("tools_config", *loc)), []).append(
                    f"secret {name!r} is not set for this tenant (add it under Secrets)"
                )
    targets = tools.handoff_targets()
    if targets:
        published = dict(
            Agent.objects.filter(
                tenant=tenant, agent_id__in=[agent_id for _, agent_id in targets]
            ).values_list("agent_id", "published_version_id")
        )
        for loc, agent_id in targets:
            path = format_loc(("tools_config", *loc))
            if agent_id == document.agent_id:
                errors.setdefault(path, []).append("an agent cannot hand off to itself")
            elif agent_id not in published:
                errors.setdefault(path, []).append(f"no agent {agent_id!r} in this tenant")
            elif published[agent_id] is None:
                errors.setdefault(path, []).append(f"{agent_id!r} has no published version")
    if errors:
        raise ContractError(errors)
