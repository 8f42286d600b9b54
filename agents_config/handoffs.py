"""Handoffs between agents (``transfer_to_agent`` tools): publish-time checks and pinning.

A ``transfer_to_agent`` tool hands the conversation to another agent of the same tenant. So
that a session never changes under a caller, the published version of every agent reachable
from the session's agent (through its targets, their targets, ...) is pinned when the session
starts (``Session.handoff_versions``); the worker runs those versions whatever is published
later. Publishing checks that each target exists in the same tenant and is published.
"""

from __future__ import annotations

from typing import Any

from agents_config.contracts import AgentDocument, ContractError, parse_document

MAX_HANDOFF_AGENTS = 20
"""Agents one session may reach through handoffs (the session's own agent not counted)."""


def _document(document: AgentDocument | dict[str, Any]) -> AgentDocument:
    return document if isinstance(document, AgentDocument) else parse_document(document)


def handoff_targets(document: AgentDocument | dict[str, Any]) -> list[tuple[str, str]]:
    """``(field path, agent_id)`` of each ``transfer_to_agent`` tool of the document."""
    from agents_config.contracts import format_loc

    tools_config = _document(document).tools_config
    return [
        (format_loc(("tools_config", *loc)), agent_id)
        for loc, agent_id in tools_config.handoff_targets()
    ]


def handoff_errors(
    *, tenant_id: int, agent_id: str, document: AgentDocument | dict
) -> dict[str, list[str]]:
    """Publish-time: every handoff target exists in the tenant, is not the agent itself and
    has a published version. Field path (the tool's ``agent_id``) -> messages."""
    from agents_config.models import Agent

    targets = handoff_targets(document)
    if not targets:
        return {}
    published = dict(
        Agent.objects.filter(
            tenant_id=tenant_id, agent_id__in={target for _, target in targets}
        ).values_list("agent_id", "published_version_id")
    )
    errors: dict[str, list[str]] = {}
    for path, target in targets:
        if target == agent_id:
            errors.setdefault(path, []).append("An agent cannot hand off to itself.")
        elif target not in published:
            errors.setdefault(path, []).append(f"No agent {target!r} in this tenant.")
        elif published[target] is None:
            errors.setdefault(path, []).append(
                f"Agent {target!r} has no published version; publish it first."
            )
    return errors


def handoff_pins(*, tenant_id: int, agent_id: str, document: dict[str, Any]) -> dict[str, Any]:
    """The versions to pin for a session of ``agent_id`` running ``document``: each agent
    reachable through handoffs (breadth first, at most ``MAX_HANDOFF_AGENTS``), enabled and
    published, as ``{agent_id: {"version": label, "version_id": pk}}``."""
    from agents_config.models import Agent

    pins: dict[str, Any] = {}
    seen = {agent_id}
    frontier = [target for _, target in _safe_targets(document)]
    while frontier and len(pins) < MAX_HANDOFF_AGENTS:
        wanted = [target for target in dict.fromkeys(frontier) if target not in seen]
        seen.update(wanted)
        frontier = []
        agents = (
            Agent.objects.select_related("published_version")
            .filter(tenant_id=tenant_id, agent_id__in=wanted, enabled=True)
            .exclude(published_version=None)
        )
        for agent in sorted(agents, key=lambda a: wanted.index(a.agent_id)):
            if len(pins) >= MAX_HANDOFF_AGENTS:
                break
            version = agent.published_version
            pins[agent.agent_id] = {"version": version.version, "version_id": version.pk}
            frontier += [target for _, target in _safe_targets(version.document)]
    return pins


def _safe_targets(document: dict[str, Any]) -> list[tuple[str, str]]:
    """Targets of a stored document; one the contracts no longer accept has none."""
    try:
        return handoff_targets(document)
    except ContractError:
        return []
