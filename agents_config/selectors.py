"""Reads for agents and versions: the draft document, version lookups and diffs."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any

from django.db.models import QuerySet

from agents_config.contracts import SECTION_CONTRACTS
from agents_config.models import Agent, AgentVersion, SchemaField
from tenants.models import Tenant
from tenants.permissions import group_perm_exists
from tenants.prepared import PreparedQuery
from tenants.roles import ACTION_PERMISSION, Action

# Keys that do not change what a version *is*: they are excluded from its content checksum.
NON_CONTENT_KEYS = frozenset({"version", "enabled", "tenant_config"})
# The label that names the editable draft where a version number is expected.


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


def document_schema_fields(document: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The schema fields of a stored configuration document (a version's snapshot)."""
    return ((document or {}).get("schema_config") or {}).get("fields") or []


def document_hidden_fields(document: dict[str, Any] | None) -> set[str]:
    """THE rule for hidden fields of a stored document: names whose ``metadata.hidden`` is
    set. Never sent to the frontend (API turns, playground); the report lists them."""
    return {
        f["field_name"]
        for f in document_schema_fields(document)
        if (f.get("metadata") or {}).get("hidden")
    }


def without_hidden(data: dict[str, Any] | None, hidden: set[str] | frozenset[str]) -> dict:
    """A copy of a turn's structured output without the hidden fields."""
    return {k: v for k, v in (data or {}).items() if k not in hidden}


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
    schema = {
        "schema_id": agent.schema_id,
        "schema_version": agent.schema_version,
        "fields": [schema_field_document(f) for f in fields],
        "custom_validators": agent.custom_validators or [],
        "spoken_key_alias": agent.spoken_key_alias or None,
    }
    return {
        "agent_id": agent.agent_id,
        "agent_type": agent.agent_type,
        "name": agent.name,
        "version": published.version if published else "0.0.0",
        "enabled": agent.enabled,
        "reload_policy": agent.reload_policy,
        **{
            section: schema if section == "schema_config" else getattr(agent, section) or {}
            for section in SECTION_CONTRACTS
        },
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


def agent_draft_snapshot(agent: Agent, version_label: str = "0.0.0") -> dict[str, Any]:
    """The validated draft exactly as publishing would store it (``ContractError`` if the
    draft is invalid): what publishes, what the draft checksum and the draft diff read."""
    from agents_config.contracts import parse_document

    document = parse_document(agent_draft_document(agent)).to_dict()
    document["version"] = version_label
    document["tenant_config"] = None
    return document


def draft_checksum(agent: Agent) -> str:
    """The content checksum the draft would publish with (``ContractError`` if invalid)."""
    return content_checksum(agent_draft_snapshot(agent))


class DraftState:
    """How the draft relates to the live version (the dashboard's badge)."""

    IN_SYNC = "in sync"
    UNPUBLISHED = "unpublished changes"
    NEVER_PUBLISHED = "never published"
    INVALID = "invalid draft"


def agent_draft_state(agent: Agent) -> str:
    """One of ``DraftState``: the draft's content checksum against the live version's.

    Not a database annotation: the checksum is over the validated document, so it is
    computed per agent (the list prefetches the schema fields; one page is cheap)."""
    from agents_config.contracts import ContractError

    try:
        checksum = draft_checksum(agent)
    except ContractError:
        return DraftState.INVALID
    live = agent.published_version
    if live is None:
        return DraftState.NEVER_PUBLISHED
    return DraftState.IN_SYNC if live.checksum == checksum else DraftState.UNPUBLISHED


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


# Rendered drafts per (agent pk, revision, published version pk), without the live tenant
# settings. Every draft write, publish and enable switch bumps the revision, so a stale entry
# is never read again (it just ages out). In-process: no network round trip on a hit.
DRAFT_CACHE_SIZE = 512
_draft_cache: OrderedDict[tuple[int, int, int | None], dict[str, Any]] = OrderedDict()
_draft_cache_lock = threading.Lock()


_DRAFT_HEAD = PreparedQuery(
    lambda tenant_id, agent_id, group_name: (
        Agent.objects.filter(tenant_id=tenant_id, agent_id=agent_id)
        .order_by()
        .annotate(
            readable=group_perm_exists(
                Agent, group_name=group_name, codename=ACTION_PERMISSION[Action.READ]
            )
        )
        .values_list("pk", "revision", "published_version_id", "readable")[:1]
    ),
    tenant_id=-918_273_645,
    agent_id="\x01agent",
    group_name="\x01group",
)


def agent_draft_head(*, tenant: Tenant, agent_id: str, group_name: str) -> dict[str, Any] | None:
    """One indexed query, compiled once per process (the API-key read path): the agent's
    ``pk``, ``revision``, ``published_version_id`` and ``readable``, whether the role group
    ``group_name`` holds the read permission on it."""
    rows = _DRAFT_HEAD.rows(tenant_id=tenant.pk, agent_id=agent_id, group_name=group_name)
    if not rows:
        return None
    pk, revision, published_version_id, readable = rows[0]
    return {
        "pk": pk,
        "revision": revision,
        "published_version_id": published_version_id,
        "readable": readable,
    }


def agent_draft_document_cached(*, tenant: Tenant, head: dict[str, Any]) -> dict[str, Any]:
    """``agent_draft_document`` for the agent ``head`` describes, rendered once per revision
    (``tenant_config`` is always filled in live from ``tenant``)."""
    key = (head["pk"], head["revision"], head["published_version_id"])
    with _draft_cache_lock:
        cached = _draft_cache.get(key)
        if cached is not None:
            _draft_cache.move_to_end(key)
    if cached is None:
        agent = (
            Agent.objects.select_related("tenant", "published_version")
            .prefetch_related("schema_fields")
            .get(pk=head["pk"], tenant=tenant)
        )
        cached = agent_draft_document(agent)
        cached.pop("tenant_config")
        # The row read may be newer than ``head``: file it under the revision it has.
        key = (agent.pk, agent.revision, agent.published_version_id)
        with _draft_cache_lock:
            _draft_cache[key] = cached
            while len(_draft_cache) > DRAFT_CACHE_SIZE:
                _draft_cache.popitem(last=False)
        head = {**head, "revision": agent.revision, "published_version_id": key[2]}
        published = agent.published_version.version if agent.published_version else None
    else:
        published = cached["version"] if head["published_version_id"] else None
    return {
        **cached,
        "tenant_config": tenant_config_document(tenant),
        "config_id": str(head["pk"]),
        "published_version": published,
        "revision": head["revision"],
    }


def draft_cache_clear() -> None:
    with _draft_cache_lock:
        _draft_cache.clear()


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


def agent_publish_preview(agent: Agent) -> dict[str, Any]:
    """What publishing would do: the live version, the next version number for each bump
    kind, and the changes from the live version to the draft (``error`` if it is invalid)."""
    from agents_config.contracts import ContractError
    from agents_config.diff import document_diff
    from agents_config.versioning import bump, format_semver

    latest = agent_latest_version(agent=agent)
    current = latest.semver if latest else None
    preview: dict[str, Any] = {
        "live": agent.published_version,
        "latest": latest,
        "next": {kind: format_semver(bump(current, kind)) for kind in ("minor", "patch", "major")},
        "changes": [],
        "error": None,
    }
    try:
        draft = agent_draft_snapshot(agent)
    except ContractError as exc:
        preview["error"] = "; ".join(
            f"{p or 'document'}: {' '.join(m)}" for p, m in exc.errors.items()
        )
        return preview
    if agent.published_version is not None:
        preview["changes"] = document_diff(agent.published_version.document, draft)
    return preview
