"""API writes: partial updates of sections, schema fields, tracing, the guarded delete.

Each takes the revision the caller read (``If-Match``) and goes through the lifecycle's draft
write, so validation, audit and the change event are the lifecycle's.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from agents_config.contracts import ContractError
from agents_config.events import emit_config_change
from agents_config.models import Agent
from agents_config.selectors import agent_draft_document
from agents_config.services.agents import agent_delete, agent_update_draft
from agents_config.services.common import (
    AgentConflict,
    StaleRevision,
    _locked,
)
from tenants.actors import Actor
from tenants.services import audit_record

# Keys the API shows next to a document that are not part of it; ignored in partial updates.
READ_ONLY_KEYS = frozenset({"config_id", "published_version", "revision"})


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``patch`` over ``base``: objects merge recursively; lists and scalars replace."""
    merged = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _current(agent: Agent, expected_revision: int | None) -> tuple[Agent, dict[str, Any]]:
    """The locked agent and its draft document, after the optimistic-lock check."""
    locked = _locked(agent)
    if expected_revision is not None and locked.revision != expected_revision:
        raise StaleRevision(
            f"The agent changed since revision {expected_revision} (now {locked.revision})."
        )
    return locked, agent_draft_document(locked)


def _save_edit(
    *,
    agent: Agent,
    document: dict[str, Any],
    action: str,
    details: dict[str, Any],
    expected_revision: int | None,
    actor: Actor | None,
) -> Agent:
    """Store an edited draft document, record the named edit and emit its change event."""
    updated = agent_update_draft(
        agent=agent,
        data=document,
        actor=actor,
        expected_revision=expected_revision,
    )
    audit_record(
        tenant=updated.tenant,
        action=f"agent.{action}",
        target=updated.agent_id,
        details={**details, "revision": updated.revision},
        actor=actor,
    )
    emit_config_change(agent=updated, action=action)
    return updated


@transaction.atomic
def agent_update_sections(
    *,
    agent: Agent,
    partial: Any,
    expected_revision: int | None = None,
    actor: Actor | None = None,
    role: str | None = None,
) -> Agent:
    """Deep-merge ``partial`` into the draft and validate the whole result.

    Lists (such as ``schema_config.fields``) replace wholesale, which is how fields are
    reordered. Raises ``ContractError`` or ``StaleRevision``.
    """
    if not isinstance(partial, dict):
        raise ContractError({"": ["Expected a JSON object."]})
    _, document = _current(agent, expected_revision)
    patch = {k: v for k, v in partial.items() if k not in READ_ONLY_KEYS}
    updated = agent_update_draft(
        agent=agent,
        data=deep_merge(document, patch),
        actor=actor,
        expected_revision=expected_revision,
        role=role,
    )
    emit_config_change(agent=updated, action="draft_updated")
    return updated


@transaction.atomic
def agent_add_schema_field(
    *,
    agent: Agent,
    field: Any,
    expected_revision: int | None = None,
    actor: Actor | None = None,
) -> Agent:
    """Append a field to the draft's schema (validated with the whole document).

    Raises ``AgentConflict`` if a field of that name exists, ``ContractError`` if invalid.
    """
    if not isinstance(field, dict):
        raise ContractError({"": ["Expected a JSON object describing the field."]})
    _, document = _current(agent, expected_revision)
    fields = document["schema_config"]["fields"]
    name = field.get("field_name")
    if any(f["field_name"] == name for f in fields):
        raise AgentConflict(f"The schema already has a field named {name!r}.")
    document["schema_config"] = {**document["schema_config"], "fields": [*fields, field]}
    return _save_edit(
        agent=agent,
        document=document,
        action="schema_field_added",
        details={"field_name": name},
        expected_revision=expected_revision,
        actor=actor,
    )


class SchemaFieldMissing(LookupError):
    """The draft's schema has no field of that name."""


@transaction.atomic
def agent_remove_schema_field(
    *,
    agent: Agent,
    field_name: str,
    expected_revision: int | None = None,
    actor: Actor | None = None,
) -> Agent:
    """Remove a field from the draft's schema (the rest must still validate).

    Raises ``SchemaFieldMissing``, ``ContractError`` (e.g. the spoken field) or
    ``StaleRevision``.
    """
    _, document = _current(agent, expected_revision)
    fields = document["schema_config"]["fields"]
    remaining = [f for f in fields if f["field_name"] != field_name]
    if len(remaining) == len(fields):
        raise SchemaFieldMissing(field_name)
    document["schema_config"] = {**document["schema_config"], "fields": remaining}
    return _save_edit(
        agent=agent,
        document=document,
        action="schema_field_removed",
        details={"field_name": field_name},
        expected_revision=expected_revision,
        actor=actor,
    )


@transaction.atomic
def agent_set_tracing(
    *,
    agent: Agent,
    enabled: bool,
    expected_revision: int | None = None,
    actor: Actor | None = None,
) -> Agent:
    """Switch ``tracing_config.enabled`` on the draft (validated whole)."""
    _, document = _current(agent, expected_revision)
    document["tracing_config"] = {**document["tracing_config"], "enabled": enabled}
    return _save_edit(
        agent=agent,
        document=document,
        action="tracing_toggled",
        details={"enabled": enabled},
        expected_revision=expected_revision,
        actor=actor,
    )


@transaction.atomic
def agent_delete_if_idle(
    *,
    agent: Agent,
    actor: Actor | None = None,
) -> None:
    """Delete the agent unless a registered guard refuses, e.g. it has open sessions
    (``AgentConflict``; ``agents_config.hooks.register_delete_guard``)."""
    from agents_config.hooks import delete_refusal

    locked = _locked(agent)
    refusal = delete_refusal(locked)
    if refusal:
        raise AgentConflict(refusal)
    agent_delete(agent=locked, actor=actor)
