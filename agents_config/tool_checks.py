"""Publish-time checks of ``tools_config`` that need the database (the contract checks the
rest: unique names, parameters compiling, URL templates using declared parameters).

* every tenant secret a tool or MCP server names exists;
* every ``transfer_to_agent`` target is another agent of the same tenant with a published
  version (``agents_config.handoffs.handoff_errors``).

MCP and HTTP tool URLs pass the outbound-URL policy with the document's other URLs
(``services.agent_outbound_check``).
"""

from __future__ import annotations

from typing import Any

from agents_config.contracts import AgentDocument, ContractError, format_loc, parse_document
from agents_config.handoffs import handoff_errors
from tenants.models import Tenant
from tenants.selectors import tenant_secret_names


def agent_tools_check(*, tenant: Tenant, document: AgentDocument | dict[str, Any]) -> None:
    """Raise ``ContractError`` (field paths under ``tools_config``) when a named secret or a
    handoff target is missing."""
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
    for path, messages in handoff_errors(
        tenant_id=tenant.pk, agent_id=document.agent_id, document=document
    ).items():
        errors.setdefault(path, []).extend(messages)
    if errors:
        raise ContractError(errors)
