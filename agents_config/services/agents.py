"""Agent lifecycle writes: create, update the draft, publish, rollback, duplicate, enable,
import, delete.

Every write validates the whole document through ``agents_config.contracts``, records an audit
event and emits its change event after commit. Views, admin actions and commands call these.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from guardian.shortcuts import assign_perm

from agents_config.contracts import COLUMN_SECTIONS, AgentDocument, ContractError, parse_document
from agents_config.events import emit_config_change
from agents_config.models import (
    Agent,
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
from agents_config.services.common import (
    AgentConflict,
    StaleRevision,
    _locked,
)
from agents_config.services.outbound import agent_outbound_check
from agents_config.tool_checks import agent_tools_check
from agents_config.versioning import BumpKind, bump, format_semver, parse_semver
from tenants.actors import Actor, actor_or_system
from tenants.models import Tenant
from tenants.roles import Role, agent_permissions_for_role
from tenants.services import audit_record, tenant_role_group


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
    for section in COLUMN_SECTIONS:
        setattr(agent, section, getattr(document, section).model_dump(mode="json"))
    schema = document.schema_config
    agent.schema_id = schema.schema_id
    agent.schema_version = schema.schema_version
    agent.custom_validators = list(schema.custom_validators)
    agent.spoken_key_alias = schema.spoken_key_alias
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
    actor: Actor | None = None,
    role: str | None = None,
) -> Agent:
    """Create an agent from a configuration document; ``AgentConflict`` if the id is taken.

    ``role`` is the caller's tenant role (``agent_outbound_check``); None for trusted callers.
    """
    document = data if isinstance(data, AgentDocument) else parse_document(data)
    if Agent.objects.filter(tenant=tenant, agent_id=document.agent_id).exists():
        raise AgentConflict(f"An agent with agent_id {document.agent_id!r} already exists.")
    agent_outbound_check(tenant=tenant, document=document, role=role)
    agent = Agent(
        tenant=tenant, agent_id=document.agent_id, created_by=actor_or_system(actor).audit_user
    )
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
        actor=actor,
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
    actor: Actor | None = None,
) -> Agent:
    """A new draft from an agent template (``agents_config.agent_templates``), with section
    ``overrides`` deep-merged; created by :func:`agent_create` like any other document."""
    from agents_config.agent_templates import agent_template

    template = agent_template(template_id)
    if template is None:
        raise UnknownTemplate(template_id)
    document = template.new_document(agent_id=agent_id, name=name, overrides=overrides)
    return agent_create(tenant=tenant, data=document, role=role, actor=actor)


@transaction.atomic
def agent_update_draft(
    *,
    agent: Agent,
    data: dict[str, Any] | AgentDocument,
    actor: Actor | None = None,
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
        actor=actor,
    )
    if was_enabled != locked.enabled:
        emit_config_change(agent=locked, action="enabled" if locked.enabled else "disabled")
    agent.refresh_from_db()
    return locked


def agent_lock_for_edit(*, agent: Agent) -> bool:
    """Before a form writes the agent's row directly (the admin): lock the row until the
    transaction ends and carry the stored revision onto ``agent``, so the form's save never
    writes back a stale one. Returns whether the stored agent was enabled (for
    :func:`agent_touch_draft`). Call inside the transaction that saves the form."""
    locked = _locked(agent)
    agent.revision = locked.revision
    return locked.enabled


@transaction.atomic
def agent_touch_draft(
    *,
    agent: Agent,
    actor: Actor | None = None,
    created: bool = False,
    was_enabled: bool | None = None,
) -> Agent:
    """After an admin form saved the draft directly: bump the revision under the row lock,
    grant the role permissions (new agents), audit and send the change event on commit.

    ``was_enabled`` is what :func:`agent_lock_for_edit` returned; a changed ``enabled``
    also sends ``enabled`` / ``disabled``, as :func:`agent_update_draft` does.
    """
    locked = _locked(agent)
    if created:
        agent_grant_role_permissions(agent=locked)
    else:
        locked.revision += 1
        Agent.objects.filter(pk=locked.pk).update(revision=locked.revision)
        agent.revision = locked.revision
    audit_record(
        tenant=locked.tenant,
        action="agent.created" if created else "agent.draft_updated",
        target=locked.agent_id,
        actor=actor,
        details={} if created else {"revision": locked.revision},
    )
    emit_config_change(agent=locked, action="created" if created else "draft_updated")
    if was_enabled is not None and was_enabled != locked.enabled:
        emit_config_change(agent=locked, action="enabled" if locked.enabled else "disabled")
    return locked


def _snapshot(agent: Agent, version_label: str) -> dict[str, Any]:
    return agent_draft_snapshot(agent, version_label)


def _create_version(
    *,
    agent: Agent,
    document: dict[str, Any],
    semver: tuple[int, int, int],
    source: str,
    actor: Actor | None,
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
        created_by=actor_or_system(actor).audit_user,
    )
    agent.published_version = version
    agent.save(update_fields=["published_version", "updated_at"])
    return version


@transaction.atomic
def agent_publish(
    *,
    agent: Agent,
    actor: Actor | None = None,
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
        from agents_config.test_suites.services import agent_test_gate_check

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
    _publishable_check(locked, document)
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
        actor=actor,
    )
    emit_config_change(agent=locked, action="published", version=new_version.version)
    agent.refresh_from_db()
    return new_version


def _publishable_check(agent: Agent, document: dict[str, Any]) -> None:
    """What a document must pass to become a live version (publish and rollback alike):
    the outbound-URL policy and platform keys, the tools' secrets and URLs, the handoff
    targets (published agents of the same tenant)."""
    agent_outbound_check(tenant=agent.tenant, document=document, publishing=True)
    agent_tools_check(tenant=agent.tenant, document=document)  # secrets, handoff targets


@transaction.atomic
def agent_rollback(
    *,
    agent: Agent,
    to_version: AgentVersion,
    actor: Actor | None = None,
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
    _publishable_check(locked, to_version.document)
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
        actor=actor,
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
    actor: Actor | None = None,
    role: str | None = None,
) -> Agent:
    """Copy the draft into a new, unpublished agent of the same tenant."""
    document = agent_draft_document(agent)
    document.update(agent_id=new_agent_id, name=name or f"{agent.name or agent.agent_id} (copy)")
    return agent_create(tenant=agent.tenant, data=document, actor=actor, role=role)


@transaction.atomic
def agent_set_enabled(
    *,
    agent: Agent,
    enabled: bool,
    actor: Actor | None = None,
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
            actor=actor,
        )
        emit_config_change(agent=locked, action=action)
    agent.refresh_from_db()
    return locked


@transaction.atomic
def agent_import(
    *,
    tenant: Tenant,
    data: dict[str, Any],
    actor: Actor | None = None,
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
        agent = agent_create(tenant=tenant, data=document, actor=actor, role=role)
    else:
        agent = agent_update_draft(agent=existing, data=document, actor=actor, role=role)
    if publish:
        latest = agent_latest_version(agent=agent)
        wanted = parse_semver(document.version)
        explicit = document.version if wanted > (latest.semver if latest else (0, 0, 0)) else None
        try:
            agent_publish(
                agent=agent,
                actor=actor,
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
    *,
    agent: Agent,
    actor: Actor | None = None,
) -> None:
    audit_record(
        tenant=agent.tenant,
        action="agent.deleted",
        target=agent.agent_id,
        actor=actor,
    )
    emit_config_change(agent=agent, action="deleted")
    agent.delete()
