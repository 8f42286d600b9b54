"""Reads for agents and versions: the draft document, version lookups and diffs."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db.models import QuerySet

from agents_config.models import Agent, AgentVersion, SchemaField
from tenants.models import Tenant

# Keys that do not change what a version *is*: they are excluded from its content checksum.
NON_CONTENT_KEYS = frozenset({"version", "enabled", "tenant_config"})


def agents_for_tenant(*, tenant: Tenant) -> QuerySet[Agent]:
    return (
        Agent.objects.filter(tenant=tenant)
        .select_related("tenant", "published_version")
        .prefetch_related("schema_fields")
    )


def schema_field_document(field: SchemaField) -> dict[str, Any]:
    return {
        "field_name": field.field_name,
        "field_type": field.field_type,
        "description": field.description,
        "required": field.required,
        "default": field.default,
        "constraints": field.constraints or {},
        "metadata": {
            "spoken": field.spoken,
            "tts_instructions": field.tts_instructions,
            "hidden": field.hidden,
        },
    }


def tenant_config_document(tenant: Tenant) -> dict[str, Any]:
    return {
        "tenant_id": tenant.slug,
        "isolation_level": tenant.isolation_level,
        "rate_limits": tenant.rate_limits(),
        "quotas": tenant.quotas(),
    }


def agent_draft_document(
    agent: Agent, *, fields: list[SchemaField] | None = None
) -> dict[str, Any]:
    """The agent's draft as a configuration document (not yet validated).

    ``fields`` lets a caller (the admin, mid-edit) pass unsaved schema fields.
    """
    if fields is None:
        fields = list(agent.schema_fields.all())
    published = agent.published_version
    return {
        "agent_id": agent.agent_id,
        "agent_type": agent.agent_type,
        "name": agent.name,
        "version": published.version if published else "0.0.0",
        "enabled": agent.enabled,
        "reload_policy": agent.reload_policy,
        "prompt_config": agent.prompt_config,
        "schema_config": {
            "schema_id": agent.schema_id,
            "schema_version": agent.schema_version,
            "fields": [schema_field_document(f) for f in fields],
            "custom_validators": agent.custom_validators or [],
        },
        "llm_config": agent.llm_config,
        "stt_config": agent.stt_config,
        "tts_config": agent.tts_config,
        "tracing_config": agent.tracing_config,
        "pipeline_config": agent.pipeline_config,
        "analysis_config": agent.analysis_config or {},
        "tenant_config": tenant_config_document(agent.tenant),
    }


def version_export_document(version: AgentVersion) -> dict[str, Any]:
    """A published version as an exportable document (tenant settings filled in live)."""
    document = dict(version.document)
    document["tenant_config"] = tenant_config_document(version.agent.tenant)
    return document


def content_checksum(document: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of what the agent does (not its label or switch)."""
    content = {k: v for k, v in document.items() if k not in NON_CONTENT_KEYS}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def agent_versions(*, agent: Agent) -> QuerySet[AgentVersion]:
    return AgentVersion.objects.filter(agent=agent).select_related("created_by")


def agent_latest_version(*, agent: Agent) -> AgentVersion | None:
    return agent_versions(agent=agent).order_by("-major", "-minor", "-patch").first()


def agent_version_by_label(*, agent: Agent, version: str) -> AgentVersion | None:
    return agent_versions(agent=agent).filter(version=version.strip()).first()


def version_previous(version: AgentVersion) -> AgentVersion | None:
    """The version published just before ``version`` (by version number)."""
    earlier = AgentVersion.objects.filter(agent_id=version.agent_id).exclude(pk=version.pk)
    candidates = [v for v in earlier if v.semver < version.semver]
    return max(candidates, key=lambda v: v.semver, default=None)


def agent_for_tenant(*, tenant: Tenant, agent_id: str) -> Agent | None:
    """The tenant's agent with that slug, or None (never another tenant's)."""
    return agents_for_tenant(tenant=tenant).filter(agent_id=agent_id).first()


def agent_with_live_version(*, tenant: Tenant, agent_id: str) -> Agent | None:
    """The tenant's agent with its published version joined (no schema fields loaded)."""
    return (
        Agent.objects.filter(tenant=tenant, agent_id=agent_id)
        .select_related("tenant", "published_version")
        .first()
    )


def agents_filtered(
    *,
    agents: QuerySet[Agent],
    agent_type: str | None = None,
    enabled: bool | None = None,
    search: str | None = None,
) -> QuerySet[Agent]:
    """``agents`` narrowed by type, enabled switch and a name / agent_id search."""
    from django.db.models import Q

    if agent_type:
        agents = agents.filter(agent_type=agent_type)
    if enabled is not None:
        agents = agents.filter(enabled=enabled)
    if search:
        agents = agents.filter(Q(name__icontains=search) | Q(agent_id__icontains=search))
    return agents.order_by("agent_id")


def agent_turn_latency(*, agent: Agent, recent: int = 500) -> dict[str, dict[str, float | None]]:
    """p50/p90 (ms) of time to first spoken text and of TTS first byte over the agent's
    ``recent`` latest turns (nearest-rank; ``None`` when no turn has the measurement)."""
    from sessions_app.models import Turn

    rows = list(
        Turn.objects.filter(session__agent=agent)
        .order_by("-created_at")
        .values_list("first_spoken_ms", "tts_ttfb_ms")[:recent]
    )

    def percentiles(values: list[float]) -> dict[str, float | None]:
        if not values:
            return {"p50": None, "p90": None, "count": 0}
        ordered = sorted(values)

        def rank(q: float) -> float:
            return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

        return {"p50": rank(0.5), "p90": rank(0.9), "count": len(ordered)}

    return {
        "first_spoken_ms": percentiles([r[0] for r in rows if r[0] is not None]),
        "tts_ttfb_ms": percentiles([r[1] for r in rows if r[1] is not None]),
    }
