"""Writes for agents: create, update the draft, publish, rollback, duplicate, enable, import.

Every write validates the whole document through ``agents_config.contracts``, records an audit
event and emits its change event after commit. Views, admin actions and commands call these.
"""

from __future__ import annotations

from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from guardian.shortcuts import assign_perm

from agents_config.contracts import AgentDocument, ContractError, OutboundURL, parse_document
from agents_config.events import emit_config_change
from agents_config.handoffs import handoff_check
from agents_config.models import (
    Agent,
    AgentTestCase,
    AgentTestRun,
    AgentVersion,
    SchemaField,
    VersionSource,
)
from agents_config.selectors import (
    agent_draft_document,
    agent_draft_snapshot,
    agent_latest_version,
    content_checksum,
)
from agents_config.versioning import BumpKind, bump, format_semver, parse_semver
from tenants import outbound
from tenants.models import Tenant
from tenants.roles import Action, Role, agent_permissions_for_role, role_allows
from tenants.secrets import platform_key_refusal, tenant_has_credential
from tenants.services import audit_record, tenant_role_group


class AgentConflict(Exception):
    """The write contradicts the current state (duplicate id, nothing to publish, ...)."""


class StaleRevision(Exception):
    """The draft changed since the caller read it (optimistic locking)."""


class OutboundURLForbidden(Exception):
    """The caller's role may not change outbound URLs (``fields`` names them); a 403."""

    def __init__(self, fields: dict[str, list[str]]):
        self.fields = fields
        super().__init__("; ".join(f"{path}: {' '.join(m)}" for path, m in fields.items()))


def _actor_label(actor: AbstractBaseUser | None, actor_label: str) -> dict[str, Any]:
    return {"actor": actor, "actor_label": actor_label}


def _urls_of(data: Any) -> list[OutboundURL] | None:
    if data is None or isinstance(data, list):
        return data
    return (data if isinstance(data, AgentDocument) else parse_document(data)).outbound_urls()


def agent_outbound_check(
    *,
    tenant: Tenant,
    document: AgentDocument | dict[str, Any] | list[OutboundURL],
    previous: AgentDocument | dict[str, Any] | list[OutboundURL] | None = None,
    role: str | None = None,
    publishing: bool = False,
) -> None:
    """Where the document sends requests and keys, checked before it is stored or published.

    * A role without ``Action.CHANGE_OUTBOUND_URLS`` (only admins have it) may not set,
      change or clear an outbound URL: ``OutboundURLForbidden`` naming the field.
      ``role=None`` is a trusted caller (management commands, the system).
    * A new or changed URL must pass the outbound-URL policy (``tenants.outbound``).
    * A URL that would receive the platform's key (the tenant has no credential of its own
      for the provider) must be one the platform allows (``platform_key_refusal``).

    Saves check what changed; publishing checks every URL. Raises ``ContractError``.
    """
    urls = _urls_of(document) or []
    before = {u.field: u for u in _urls_of(previous) or []}
    changed = [u for u in urls if before.get(u.field) != u and (u.url or u.field in before)]
    if role is not None and not role_allows(role, Action.CHANGE_OUTBOUND_URLS):
        forbidden = {
            u.field: [
                f"The {role} role may not change outbound URLs; only a tenant admin may "
                f"{'set' if u.url else 'clear'} {u.field}."
            ]
            for u in changed
            if (before[u.field].url if u.field in before else None) != u.url
        }
        if forbidden:
            raise OutboundURLForbidden(forbidden)
    errors: dict[str, list[str]] = {}
    for url in urls if publishing else changed:
        if not url.url:
            continue
        try:
            outbound.check_url(url.url)
        except outbound.OutboundURLRefused as exc:
            errors.setdefault(url.field, []).append(str(exc))
        if url.key_provider and not tenant_has_credential(
            tenant_id=tenant.pk, provider=url.key_provider
        ):
            refusal = platform_key_refusal(provider=url.key_provider, url=url.url, field=url.field)
            if refusal is not None:
                errors.setdefault(url.field, []).append(refusal.reason)
    if errors:
        raise ContractError(errors)


def _write_document(agent: Agent, document: AgentDocument) -> None:
    """Store a validated document as the agent's draft (fields replaced in order).

    The document's contract warnings stay on the instance as ``config_warnings`` (not stored)
    so the API and the admin can show what was inferred.
    """
    agent.config_warnings = document.warnings()
    agent.agent_type = document.agent_type
    agent.name = document.name
    agent.enabled = document.enabled
    agent.reload_policy = document.reload_policy
    for section in (
        "prompt_config",
        "llm_config",
        "stt_config",
        "tts_config",
        "tracing_config",
        "pipeline_config",
        "analysis_config",
        "tools_config",
    ):
        setattr(agent, section, getattr(document, section).model_dump(mode="json"))
    schema = document.schema_config
    agent.schema_id = schema.schema_id
    agent.schema_version = schema.schema_version
    agent.custom_validators = list(schema.custom_validators)
    agent.save()
    agent.schema_fields.all().delete()
    SchemaField.objects.bulk_create(
        SchemaField(
            agent=agent,
            position=position,
            field_name=f.field_name,
            field_type=f.field_type,
            description=f.description,
            required=f.required,
            default=f.default,
            constraints=f.constraints,
            spoken=f.metadata.spoken,
            tts_instructions=f.metadata.tts_instructions,
            hidden=f.metadata.hidden,
        )
        for position, f in enumerate(schema.fields)
    )


def agent_grant_role_permissions(*, agent: Agent) -> None:
    """Give each tenant role group the object permissions its role allows on ``agent``."""
    for role in Role.values:
        group = tenant_role_group(tenant=agent.tenant, role=role)
        for perm in agent_permissions_for_role(role):
            assign_perm(perm, group, agent)


@transaction.atomic
def agent_create(
    *,
    tenant: Tenant,
    data: dict[str, Any] | AgentDocument,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    role: str | None = None,
) -> Agent:
    """Create an agent from a configuration document; ``AgentConflict`` if the id is taken.

    ``role`` is the caller's tenant role (``agent_outbound_check``); None for trusted callers.
    """
    document = data if isinstance(data, AgentDocument) else parse_document(data)
    if Agent.objects.filter(tenant=tenant, agent_id=document.agent_id).exists():
        raise AgentConflict(f"An agent with agent_id {document.agent_id!r} already exists.")
    agent_outbound_check(tenant=tenant, document=document, role=role)
    agent = Agent(tenant=tenant, agent_id=document.agent_id, created_by=_user(actor))
    try:
        with transaction.atomic():
            _write_document(agent, document)
    except IntegrityError:
        raise AgentConflict(
            f"An agent with agent_id {document.agent_id!r} already exists."
        ) from None
    agent_grant_role_permissions(agent=agent)
    audit_record(
        tenant=tenant,
        action="agent.created",
        target=agent.agent_id,
        **_actor_label(actor, actor_label),
    )
    emit_config_change(agent=agent, action="created")
    return agent


def _stored_document(agent: Agent) -> AgentDocument | None:
    """The agent's current draft, or None if it no longer validates (then every URL in the
    new document counts as changed)."""
    try:
        return parse_document(agent_draft_document(agent))
    except ContractError:
        return None


class UnknownTemplate(LookupError):
    """No agent template has that id."""


def agent_create_from_template(
    *,
    tenant: Tenant,
    template_id: str,
    agent_id: str,
    name: str | None = None,
    overrides: dict[str, Any] | None = None,
    role: str | None = None,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
) -> Agent:
    """A new draft from an agent template (``agents_config.agent_templates``), with section
    ``overrides`` deep-merged; created by :func:`agent_create` like any other document."""
    from agents_config.agent_templates import agent_template

    template = agent_template(template_id)
    if template is None:
        raise UnknownTemplate(template_id)
    document = template.new_document(agent_id=agent_id, name=name, overrides=overrides)
    return agent_create(
        tenant=tenant, data=document, role=role, actor=actor, actor_label=actor_label
    )


def _user(actor: AbstractBaseUser | None) -> AbstractBaseUser | None:
    return actor if actor is not None and actor.is_authenticated else None


def _locked(agent: Agent) -> Agent:
    """The agent's row, locked until the transaction ends."""
    return (
        Agent.objects.select_for_update(of=("self",))
        .select_related("tenant", "published_version")
        .get(pk=agent.pk)
    )


@transaction.atomic
def agent_update_draft(
    *,
    agent: Agent,
    data: dict[str, Any] | AgentDocument,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    expected_revision: int | None = None,
    role: str | None = None,
) -> Agent:
    """Replace the draft with ``data`` (validated whole). The agent_id cannot change here."""
    locked = _locked(agent)
    if expected_revision is not None and locked.revision != expected_revision:
        raise StaleRevision(
            f"The agent changed since revision {expected_revision} (now {locked.revision})."
        )
    document = data if isinstance(data, AgentDocument) else parse_document(data)
    if document.agent_id != locked.agent_id:
        raise ContractError({"agent_id": ["agent_id cannot be changed; duplicate the agent."]})
    agent_outbound_check(
        tenant=locked.tenant,
        document=document,
        previous=_stored_document(locked),
        role=role,
    )
    was_enabled = locked.enabled
    locked.revision += 1
    _write_document(locked, document)
    audit_record(
        tenant=locked.tenant,
        action="agent.draft_updated",
        target=locked.agent_id,
        details={"revision": locked.revision},
        **_actor_label(actor, actor_label),
    )
    if was_enabled != locked.enabled:
        emit_config_change(agent=locked, action="enabled" if locked.enabled else "disabled")
    agent.refresh_from_db()
    return locked


@transaction.atomic
def agent_touch_draft(
    *, agent: Agent, actor: AbstractBaseUser | None = None, created: bool = False
) -> None:
    """After an admin form saved the draft directly: bump the revision, grant, audit."""
    Agent.objects.filter(pk=agent.pk).update(revision=agent.revision + (0 if created else 1))
    if created:
        agent_grant_role_permissions(agent=agent)
    audit_record(
        tenant=agent.tenant,
        action="agent.created" if created else "agent.draft_updated",
        target=agent.agent_id,
        actor=actor,
    )


def _snapshot(agent: Agent, version_label: str) -> dict[str, Any]:
    return agent_draft_snapshot(agent, version_label)


def _create_version(
    *,
    agent: Agent,
    document: dict[str, Any],
    semver: tuple[int, int, int],
    source: str,
    actor: AbstractBaseUser | None,
    note: str,
    rolled_back_from: AgentVersion | None = None,
) -> AgentVersion:
    label = format_semver(semver)
    document = {**document, "version": label}
    version = AgentVersion.objects.create(
        agent=agent,
        version=label,
        major=semver[0],
        minor=semver[1],
        patch=semver[2],
        document=document,
        checksum=content_checksum(document),
        source=source,
        rolled_back_from=rolled_back_from,
        note=note,
        created_by=_user(actor),
    )
    agent.published_version = version
    agent.save(update_fields=["published_version", "updated_at"])
    return version


@transaction.atomic
def agent_publish(
    *,
    agent: Agent,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    bump_kind: BumpKind = "minor",
    version: str | None = None,
    note: str = "",
    allow_unchanged: bool = False,
) -> AgentVersion:
    """Snapshot the validated draft as a new immutable version and make it the live one.

    Raises ``ContractError`` if the draft is invalid, ``AgentConflict`` if the version number
    is not greater than the latest or nothing changed since the latest version.
    """
    locked = _locked(agent)
    if locked.require_passing_tests:
        agent_test_gate_check(agent=locked)
    latest = agent_latest_version(agent=locked)
    if version is not None:
        try:
            semver = parse_semver(version)
        except ValueError as exc:
            raise ContractError({"version": [str(exc)]}) from None
        if latest is not None and semver <= latest.semver:
            raise AgentConflict(
                f"Version {version} is not greater than the latest version {latest.version}."
            )
    else:
        semver = bump(latest.semver if latest else None, bump_kind)
    document = _snapshot(locked, format_semver(semver))
    if latest is not None and not allow_unchanged and latest.checksum == content_checksum(document):
        raise AgentConflict(f"Nothing changed since version {latest.version}.")
    agent_outbound_check(tenant=locked.tenant, document=document, publishing=True)
    handoff_check(tenant_id=locked.tenant_id, agent_id=locked.agent_id, document=document)
    new_version = _create_version(
        agent=locked,
        document=document,
        semver=semver,
        source=VersionSource.PUBLISH,
        actor=actor,
        note=note,
    )
    audit_record(
        tenant=locked.tenant,
        action="agent.published",
        target=locked.agent_id,
        details={"version": new_version.version, "note": note},
        **_actor_label(actor, actor_label),
    )
    emit_config_change(agent=locked, action="published", version=new_version.version)
    agent.refresh_from_db()
    return new_version


@transaction.atomic
def agent_rollback(
    *,
    agent: Agent,
    to_version: AgentVersion,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    note: str = "",
    role: str | None = None,
) -> AgentVersion:
    """Re-publish an older snapshot as a new (patch-bumped) version; the draft follows it."""
    locked = _locked(agent)
    if to_version.agent_id != locked.pk:
        raise AgentConflict("That version belongs to another agent.")
    agent_outbound_check(
        tenant=locked.tenant,
        document=to_version.document,
        previous=_stored_document(locked),
        role=role,
    )
    agent_outbound_check(tenant=locked.tenant, document=to_version.document, publishing=True)
    handoff_check(
        tenant_id=locked.tenant_id, agent_id=locked.agent_id, document=to_version.document
    )
    latest = agent_latest_version(agent=locked)
    assert latest is not None  # to_version exists, so there is a latest
    semver = bump(latest.semver, "patch")
    old_document = parse_document(to_version.document).model_copy(
        update={"enabled": locked.enabled}
    )
    _write_document(locked, old_document)
    locked.revision += 1
    locked.save(update_fields=["revision"])
    new_version = _create_version(
        agent=locked,
        document={**to_version.document, "enabled": locked.enabled},
        semver=semver,
        source=VersionSource.ROLLBACK,
        actor=actor,
        note=note or f"Rollback to {to_version.version}",
        rolled_back_from=to_version,
    )
    audit_record(
        tenant=locked.tenant,
        action="agent.rolled_back",
        target=locked.agent_id,
        details={"to": to_version.version, "version": new_version.version},
        **_actor_label(actor, actor_label),
    )
    emit_config_change(agent=locked, action="rollback", version=new_version.version)
    agent.refresh_from_db()
    return new_version


@transaction.atomic
def agent_duplicate(
    *,
    agent: Agent,
    new_agent_id: str,
    name: str | None = None,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    role: str | None = None,
) -> Agent:
    """Copy the draft into a new, unpublished agent of the same tenant."""
    document = agent_draft_document(agent)
    document.update(agent_id=new_agent_id, name=name or f"{agent.name or agent.agent_id} (copy)")
    return agent_create(
        tenant=agent.tenant, data=document, actor=actor, actor_label=actor_label, role=role
    )


@transaction.atomic
def agent_set_enabled(
    *, agent: Agent, enabled: bool, actor: AbstractBaseUser | None = None, actor_label: str = ""
) -> Agent:
    locked = _locked(agent)
    if locked.enabled != enabled:
        locked.enabled = enabled
        locked.revision += 1
        locked.save(update_fields=["enabled", "revision", "updated_at"])
        action = "enabled" if enabled else "disabled"
        audit_record(
            tenant=locked.tenant,
            action=f"agent.{action}",
            target=locked.agent_id,
            **_actor_label(actor, actor_label),
        )
        emit_config_change(agent=locked, action=action)
    agent.refresh_from_db()
    return locked


@transaction.atomic
def agent_import(
    *,
    tenant: Tenant,
    data: dict[str, Any],
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    replace: bool = False,
    publish: bool = False,
    note: str = "",
    role: str | None = None,
) -> Agent:
    """Create (or with ``replace`` update) an agent from an exported document.

    With ``publish`` the imported draft is published under the document's version number when
    that is greater than the latest, else as the next minor version.
    """
    document = parse_document(data)
    existing = Agent.objects.filter(tenant=tenant, agent_id=document.agent_id).first()
    if existing is not None and not replace:
        raise AgentConflict(
            f"An agent with agent_id {document.agent_id!r} already exists (use replace)."
        )
    if existing is None:
        agent = agent_create(
            tenant=tenant, data=document, actor=actor, actor_label=actor_label, role=role
        )
    else:
        agent = agent_update_draft(
            agent=existing, data=document, actor=actor, actor_label=actor_label, role=role
        )
    if publish:
        latest = agent_latest_version(agent=agent)
        wanted = parse_semver(document.version)
        explicit = document.version if wanted > (latest.semver if latest else (0, 0, 0)) else None
        try:
            agent_publish(
                agent=agent,
                actor=actor,
                actor_label=actor_label,
                version=explicit,
                note=note or "Imported",
            )
        except AgentConflict:
            if latest is None or latest.checksum != content_checksum(_snapshot(agent, "0.0.0")):
                raise  # anything but "nothing changed" is a real conflict
        agent.refresh_from_db()
    return agent


@transaction.atomic
def agent_delete(
    *, agent: Agent, actor: AbstractBaseUser | None = None, actor_label: str = ""
) -> None:
    audit_record(
        tenant=agent.tenant,
        action="agent.deleted",
        target=agent.agent_id,
        **_actor_label(actor, actor_label),
    )
    emit_config_change(agent=agent, action="deleted")
    agent.delete()


# --- API writes: partial updates, schema fields, tracing, guarded delete -------------------

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
    actor: AbstractBaseUser | None,
    actor_label: str,
) -> Agent:
    """Store an edited draft document, record the named edit and emit its change event."""
    updated = agent_update_draft(
        agent=agent,
        data=document,
        actor=actor,
        actor_label=actor_label,
        expected_revision=expected_revision,
    )
    audit_record(
        tenant=updated.tenant,
        action=f"agent.{action}",
        target=updated.agent_id,
        details={**details, "revision": updated.revision},
        **_actor_label(actor, actor_label),
    )
    emit_config_change(agent=updated, action=action)
    return updated


@transaction.atomic
def agent_update_sections(
    *,
    agent: Agent,
    partial: Any,
    expected_revision: int | None = None,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
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
        actor_label=actor_label,
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
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
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
        actor_label=actor_label,
    )


class SchemaFieldMissing(LookupError):
    """The draft's schema has no field of that name."""


@transaction.atomic
def agent_remove_schema_field(
    *,
    agent: Agent,
    field_name: str,
    expected_revision: int | None = None,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
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
        actor_label=actor_label,
    )


@transaction.atomic
def agent_set_tracing(
    *,
    agent: Agent,
    enabled: bool,
    expected_revision: int | None = None,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
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
        actor_label=actor_label,
    )


@transaction.atomic
def agent_delete_if_idle(
    *, agent: Agent, actor: AbstractBaseUser | None = None, actor_label: str = ""
) -> None:
    """Delete the agent unless it has open sessions (``AgentConflict``)."""
    from sessions_app.models import OPEN_STATUSES, Session

    locked = _locked(agent)
    if Session.objects.filter(agent=locked, status__in=OPEN_STATUSES).exists():
        raise AgentConflict(
            f"Agent {locked.agent_id!r} has active sessions; end them before deleting it."
        )
    agent_delete(agent=locked, actor=actor, actor_label=actor_label)


# --- Agent test suites: cases, runs, the publish gate, replay -------------------------------


def _triggered_by(actor: AbstractBaseUser | None, actor_label: str, default: str) -> str:
    if actor_label:
        return actor_label
    if actor is not None and actor.is_authenticated:
        return actor.get_username()
    return default


def _clean_case_fields(
    name: str, user_details: Any, overrides: Any, turns: Any, baseline: Any
) -> None:
    from agents_config.expectations import parse_turns

    errors: dict[str, list[str]] = {}
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        errors["name"] = ["A name of 1 to 100 characters is required."]
    for key, value in (("user_details", user_details), ("overrides", overrides)):
        if not isinstance(value, dict):
            errors[key] = ["Expected a JSON object."]
    if not isinstance(baseline, list):
        errors["baseline"] = ["Expected a list of recorded turns."]
    try:
        parse_turns(turns)
    except ContractError as exc:
        errors.update(exc.errors)
    if errors:
        raise ContractError(errors)


@transaction.atomic
def agent_test_case_create(
    *,
    agent: Agent,
    name: str,
    turns: Any,
    user_details: Any = None,
    overrides: Any = None,
    baseline: Any = None,
    source_session: Any = None,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
) -> AgentTestCase:
    """Store a validated test case; ``ContractError`` if invalid, ``AgentConflict`` if the
    agent already has a case of that name."""
    user_details = {} if user_details is None else user_details
    overrides = {} if overrides is None else overrides
    baseline = [] if baseline is None else baseline
    _clean_case_fields(name, user_details, overrides, turns, baseline)
    name = name.strip()
    if AgentTestCase.objects.filter(agent=agent, name=name).exists():
        raise AgentConflict(f"{agent.agent_id} already has a test case named {name!r}.")
    case = AgentTestCase.objects.create(
        agent=agent,
        name=name,
        user_details=user_details,
        overrides=overrides,
        turns=turns,
        baseline=baseline,
        source_session=source_session,
    )
    audit_record(
        tenant=agent.tenant,
        action="agent.test_case_created",
        target=agent.agent_id,
        details={"case": name},
        **_actor_label(actor, actor_label),
    )
    return case


@transaction.atomic
def agent_test_run_start(
    *,
    agent: Agent,
    version: str | None = None,
    case_name: str | None = None,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    triggered_by: str = "",
    enqueue: bool = True,
) -> AgentTestRun:
    """Create a queued run of one case (``case_name``) or the whole suite against ``version``
    (a published version number, or the draft when empty / ``"draft"``) and enqueue its
    Celery task after commit. ``ContractError`` for an unknown version or case,
    ``AgentConflict`` when the agent has no test cases."""
    from agents_config.suite_runner import resolve_target

    target = resolve_target(agent=agent, version=version)
    cases = AgentTestCase.objects.filter(agent=agent)
    case = None
    if case_name:
        case = cases.filter(name=case_name).first()
        if case is None:
            raise ContractError({"case": [f"{agent.agent_id} has no test case {case_name!r}."]})
        cases = cases.filter(pk=case.pk)
    elif not cases.exists():
        raise AgentConflict(f"{agent.agent_id} has no test cases.")
    run = AgentTestRun.objects.create(
        agent=agent,
        case=case,
        version_label=target.label,
        checksum=target.checksum,
        progress_total=cases.count(),
        triggered_by=triggered_by or _triggered_by(actor, actor_label, "system"),
    )
    audit_record(
        tenant=agent.tenant,
        action="agent.test_run_started",
        target=agent.agent_id,
        details={"run": run.pk, "version": target.label, "case": case_name or ""},
        **_actor_label(actor, actor_label),
    )
    if enqueue:
        from agents_config.tasks import run_agent_test_run

        # No limits in the message: the worker's own TEST_RUN_*TIME_LIMIT settings apply.
        transaction.on_commit(
            lambda: run_agent_test_run.apply_async((run.pk,), soft_time_limit=None, time_limit=None)
        )
    return run


def agent_test_run_execute(*, run: AgentTestRun, on_progress: Any = None) -> AgentTestRun:
    """Claim a queued run, execute its cases one by one (progress saved after each) and
    record the results; the run ends passed, failed or error. Not atomic: a run takes
    minutes and its progress must be visible while it runs.

    ``on_progress(done, total, case_result)`` is called after each case (the CLI's bar).
    """
    import logging

    from django.utils import timezone

    from agents_config.models import SuiteRunStatus
    from agents_config.suite_runner import (
        CaseSpec,
        provider_keys,
        resolve_target,
        run_case_sync,
        suite_checksum,
        summarize,
    )

    claimed = AgentTestRun.objects.filter(pk=run.pk, status=SuiteRunStatus.QUEUED).update(
        status=SuiteRunStatus.RUNNING, started_at=timezone.now()
    )
    run.refresh_from_db()
    if not claimed:
        return run
    agent = Agent.objects.select_related("tenant").get(pk=run.agent_id)
    cases = list(AgentTestCase.objects.filter(agent=agent))
    if run.case_id is not None:
        cases = [c for c in cases if c.pk == run.case_id]
    results: dict[str, Any] = {"agent_id": agent.agent_id, "version": run.version_label}
    try:
        target = resolve_target(agent=agent, version=run.version_label)
        specs = [CaseSpec.from_case(c) for c in cases]
        keys = provider_keys(agent)
    except ContractError as exc:
        run.status, run.error = SuiteRunStatus.ERROR, str(exc)
        run.finished_at = timezone.now()
        run.results = {**results, "cases": [], "summary": summarize([])}
        run.save()
        return run
    run.checksum = target.checksum
    run.suite_checksum = suite_checksum(cases)
    run.progress_total = len(specs)
    run.save(update_fields=["checksum", "suite_checksum", "progress_total"])
    outcomes: list[dict[str, Any]] = []
    for spec in specs:
        try:
            outcome = run_case_sync(spec, target=target, keys=keys)
        except SoftTimeLimitExceeded:
            raise  # the whole run is out of time: the task records it (agent_test_run_stop)
        except Exception as exc:  # one broken case must not lose the others
            logging.getLogger(__name__).exception("test case %s failed to run", spec.name)
            outcome = {
                "case_id": spec.case_id,
                "name": spec.name,
                "status": "error",
                "error": f"{type(exc).__name__}: {exc}",
                "duration_ms": 0.0,
                "turns": [],
            }
        outcomes.append(outcome)
        run.progress_done = len(outcomes)
        run.results = {**results, "cases": outcomes, "summary": summarize(outcomes)}
        run.save(update_fields=["progress_done", "results"])
        if on_progress is not None:
            on_progress(len(outcomes), len(specs), outcome)
    summary = summarize(outcomes)
    if summary["errors"]:
        run.status = SuiteRunStatus.ERROR
        run.error = "; ".join(f"{c['name']}: {c['error']}" for c in outcomes if c["error"])
    elif summary["failed"]:
        run.status = SuiteRunStatus.FAILED
    else:
        run.status = SuiteRunStatus.PASSED
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    return run


def agent_test_run_stop(*, run_id: int, reason: str) -> AgentTestRun | None:
    """End a run that is still queued or running as ``error`` with ``reason`` (its time limit
    ran out), keeping the cases already recorded; a run already finished is left alone."""
    from django.utils import timezone

    from agents_config.models import SuiteRunStatus

    AgentTestRun.objects.filter(
        pk=run_id, status__in=[SuiteRunStatus.QUEUED, SuiteRunStatus.RUNNING]
    ).update(status=SuiteRunStatus.ERROR, error=reason, finished_at=timezone.now())
    return AgentTestRun.objects.filter(pk=run_id).first()


def agent_test_gate_check(*, agent: Agent) -> None:
    """The publish gate: the latest whole-suite run on the exact draft content (same
    document checksum, same cases) must have passed. ``AgentConflict`` lists what failed."""
    from agents_config.models import SuiteRunStatus
    from agents_config.selectors import draft_checksum
    from agents_config.suite_runner import failing_cases, suite_checksum

    cases = list(AgentTestCase.objects.filter(agent=agent))
    if not cases:
        raise AgentConflict(f"{agent.agent_id} requires passing tests but has no test cases.")
    run = (
        AgentTestRun.objects.filter(
            agent=agent,
            case__isnull=True,
            checksum=draft_checksum(agent),
            suite_checksum=suite_checksum(cases),
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    if run is None:
        raise AgentConflict(
            f"{agent.agent_id} requires passing tests: no suite run for the current draft and "
            "cases; run the tests against the draft first."
        )
    if run.status in (SuiteRunStatus.QUEUED, SuiteRunStatus.RUNNING):
        raise AgentConflict(f"{agent.agent_id}: test run {run.pk} is still {run.status}.")
    if run.status != SuiteRunStatus.PASSED:
        failures = failing_cases(run.results) or [run.error or run.status]
        raise AgentConflict(
            f"{agent.agent_id} requires passing tests; run {run.pk} failed: " + " | ".join(failures)
        )


@transaction.atomic
def agent_test_gate_set(
    *,
    agent: Agent,
    required: bool,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
) -> Agent:
    """Switch the publish gate (not part of the versioned document)."""
    locked = _locked(agent)
    if locked.require_passing_tests != required:
        locked.require_passing_tests = required
        locked.save(update_fields=["require_passing_tests", "updated_at"])
        audit_record(
            tenant=locked.tenant,
            action="agent.test_gate_set",
            target=locked.agent_id,
            details={"required": required},
            **_actor_label(actor, actor_label),
        )
    agent.refresh_from_db()
    return locked


@transaction.atomic
def session_to_test_case(
    *,
    session: Any,
    name: str | None = None,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
) -> AgentTestCase:
    """A replay case from a recorded session: its user turns become the script (each
    expecting a valid turn when the recorded one was valid), its structured turns the
    baseline that later runs are compared with field by field."""
    if session.agent_id is None:
        raise AgentConflict("The session's agent no longer exists.")
    recorded = [t for t in session.turns.order_by("index") if t.user_text.strip()]
    if not recorded:
        raise AgentConflict("The session has no user turns to replay.")
    turns = [
        {
            "user": t.user_text,
            "expect": [] if t.validation_errors else [{"kind": "valid"}],
        }
        for t in recorded
    ]
    baseline = [
        {
            "index": t.index,
            "version": t.version_label,
            "user": t.user_text,
            "spoken_text": t.spoken_text,
            "data": t.structured_output,
            "errors": t.validation_errors,
        }
        for t in recorded
    ]
    base = name or f"replay {session.created_at:%Y-%m-%d %H:%M} {str(session.pk)[:8]}"
    unique, suffix = base[:100], 2
    while AgentTestCase.objects.filter(agent_id=session.agent_id, name=unique).exists():
        unique = f"{base[:95]} ({suffix})"
        suffix += 1
    return agent_test_case_create(
        agent=session.agent,
        name=unique,
        turns=turns,
        user_details=session.user_details or {},
        overrides=session.overrides or {},
        baseline=baseline,
        source_session=session,
        actor=actor,
        actor_label=actor_label,
    )
