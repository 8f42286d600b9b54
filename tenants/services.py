"""Writes for tenants, memberships and API keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction
from django.utils import timezone

from tenants.actors import Actor, actor_or_system
from tenants.events import emit_credential_change
from tenants.models import ApiKey, AuditEvent, Membership, ProviderCredential, Tenant
from tenants.roles import Role
from tenants.secrets import encrypt_secret

API_KEY_PREFIX = "vak"


def role_group_name(tenant: Tenant, role: str) -> str:
    return f"tenant:{tenant.pk}:{role}"


def tenant_role_group(*, tenant: Tenant, role: str) -> Group:
    """The auth group holding a tenant role's object permissions (created on demand)."""
    group, _ = Group.objects.get_or_create(name=role_group_name(tenant, role))
    return group


@transaction.atomic
def tenant_create(
    *,
    slug: str,
    name: str,
    isolation_level: str = "session",
    actor: Actor | None = None,
    **quotas: int | None,
) -> Tenant:
    tenant = Tenant(slug=slug, name=name, isolation_level=isolation_level, **quotas)
    tenant.full_clean()
    tenant.save()
    for role in Role.values:
        tenant_role_group(tenant=tenant, role=role)
    audit_record(
        tenant=tenant,
        action="tenant.created",
        target=tenant.slug,
        actor=actor,
        details={"isolation_level": isolation_level, **quotas},
    )
    return tenant


@transaction.atomic
def tenant_update(*, tenant: Tenant, changed: list[str], actor: Actor | None = None) -> Tenant:
    """Save an edited tenant (quotas, limits, name) and audit which fields changed."""
    tenant.full_clean()
    tenant.save()
    audit_record(
        tenant=tenant,
        action="tenant.updated",
        target=tenant.slug,
        actor=actor,
        details={"changed": changed},
    )
    return tenant


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValueError(f"Unknown role {role!r}; expected one of {', '.join(Role.values)}.")


@transaction.atomic
def membership_set(
    *, tenant: Tenant, user: AbstractBaseUser, role: str, actor: Actor | None = None
) -> Membership:
    """Give ``user`` exactly ``role`` in ``tenant`` (group membership follows the role)."""
    _check_role(role)
    membership, _ = Membership.objects.update_or_create(
        user=user, tenant=tenant, defaults={"role": role}
    )
    _membership_changed(membership=membership, actor=actor)
    return membership


@transaction.atomic
def membership_save(*, membership: Membership, actor: Actor | None = None) -> Membership:
    """Save a membership edited in a form (the admin): role groups follow, audited.

    When the form moved the row to another user, the previous user leaves the role groups.
    """
    _check_role(membership.role)
    if membership.pk is not None:
        previous = Membership.objects.filter(pk=membership.pk).select_related("user").first()
        if previous is not None and previous.user_id != membership.user_id:
            _leave_role_groups(previous)
    membership.save()
    _membership_changed(membership=membership, actor=actor)
    return membership


def _membership_changed(*, membership: Membership, actor: Actor | None) -> None:
    membership_sync_groups(membership=membership)
    _audit_membership(membership, "membership.set", actor)


def _audit_membership(membership: Membership, action: str, actor: Actor | None) -> None:
    audit_record(
        tenant=membership.tenant,
        action=action,
        target=membership.user.get_username(),
        actor=actor,
        details={"role": membership.role},
    )


def _leave_role_groups(membership: Membership) -> None:
    for role in Role.values:
        membership.user.groups.remove(tenant_role_group(tenant=membership.tenant, role=role))


def membership_sync_groups(*, membership: Membership) -> None:
    """Keep the user in the group of their role only."""
    tenant, user = membership.tenant, membership.user
    for role in Role.values:
        group = tenant_role_group(tenant=tenant, role=role)
        if role == membership.role:
            user.groups.add(group)
        else:
            user.groups.remove(group)


@transaction.atomic
def membership_remove(*, membership: Membership, actor: Actor | None = None) -> None:
    _leave_role_groups(membership)
    _audit_membership(membership, "membership.removed", actor)
    membership.delete()


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    raw_key: str  # shown to the caller once, never stored


@transaction.atomic
def api_key_create(
    *,
    tenant: Tenant,
    name: str,
    role: str,
    actor: Actor | None = None,
    expires_at=None,
) -> IssuedApiKey:
    """Create a key; the returned raw key is the only time the secret exists in clear.

    ``actor``'s user (if any) is stored as ``created_by``; the audit event never holds the key.
    """
    _check_role(role)
    actor = actor_or_system(actor)
    prefix = secrets.token_hex(6)
    raw_key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        tenant=tenant,
        name=name,
        role=role,
        prefix=prefix,
        key_hash=hash_api_key(raw_key),
        created_by=actor.audit_user,
        expires_at=expires_at,
    )
    audit_record(
        tenant=tenant,
        action="api_key.created",
        target=prefix,
        actor=actor,
        details={"role": role, "name": name},
    )
    return IssuedApiKey(api_key=api_key, raw_key=raw_key)


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: Actor | None = None) -> ApiKey:
    """Revoke a key (once: revoking a revoked key changes and records nothing)."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_record(
            tenant=api_key.tenant,
            action="api_key.revoked",
            target=api_key.prefix,
            actor=actor,
        )
    return api_key


@transaction.atomic
def api_key_update(*, api_key: ApiKey, changed: list[str], actor: Actor | None = None) -> ApiKey:
    """Save an edited key (its name or expiry: the role and tenant never change); audited."""
    api_key.save()
    audit_record(
        tenant=api_key.tenant,
        action="api_key.updated",
        target=api_key.prefix,
        actor=actor,
        details={"changed": list(changed)},
    )
    return api_key


def api_key_mark_used(*, api_key: ApiKey) -> None:
    """Record use at most once a minute, to keep authentication off the write path."""
    now = timezone.now()
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


@transaction.atomic
def credential_set(
    *, tenant: Tenant, provider: str, value: str, actor: Actor | None = None
) -> ProviderCredential:
    """Store (or replace) the tenant's credential for ``provider``, encrypted; audited
    without the value; ``credential_changed`` is sent after commit."""
    value = (value or "").strip()
    if not value:
        raise ValueError("A credential value is required.")
    credential, created = ProviderCredential.objects.update_or_create(
        tenant=tenant, provider=provider, defaults={"encrypted_value": encrypt_secret(value)}
    )
    audit_record(
        tenant=tenant,
        action="credential.set",
        target=provider,
        actor=actor,
        details={"created": created},
    )
    emit_credential_change(tenant=tenant, provider=provider, action="set")
    return credential


@transaction.atomic
def credential_delete(*, credential: ProviderCredential, actor: Actor | None = None) -> None:
    """Delete a stored credential (the environment's key applies again)."""
    tenant, provider = credential.tenant, credential.provider
    credential.delete()
    audit_record(tenant=tenant, action="credential.deleted", target=provider, actor=actor)
    emit_credential_change(tenant=tenant, provider=provider, action="deleted")


def audit_record(
    *,
    tenant: Tenant,
    action: str,
    target: str = "",
    actor: Actor | None = None,
    details: dict | None = None,
) -> None:
    """Record a configuration change (call inside the writing transaction); ``actor=None``
    is the system."""
    actor = actor_or_system(actor)
    AuditEvent.objects.create(
        tenant=tenant,
        actor=actor.audit_user,
        actor_label=actor.label,
        action=action,
        target=target,
        details=details or {},
    )


# --- Tenant secrets (tool and MCP credentials; encryption in ``tenants.secrets``) ---------


def tenant_secret_set(
    *,
    tenant: Tenant,
    name: str,
    value: str,
    description: str = "",
    actor: Actor | None = None,
):  # -> TenantSecret
    """Store (or replace) a named secret, encrypted; audited without its value."""
    from django.core.exceptions import ValidationError

    from tenants.models import TenantSecret
    from tenants.secrets import encrypt_secret

    value = value or ""
    if not value.strip():
        raise ValidationError({"value": "A secret value is required."})
    if len(value) > 8000 or any(c in value for c in "\r\n\0"):
        raise ValidationError({"value": "At most 8000 characters, on one line."})
    candidate = TenantSecret(tenant=tenant, name=name, description=description)
    candidate.full_clean(exclude=["tenant", "encrypted_value"], validate_unique=False)
    encrypted = encrypt_secret(value)
    with transaction.atomic():
        secret, created = TenantSecret.objects.update_or_create(
            tenant=tenant,
            name=name,
            defaults={"encrypted_value": encrypted, "description": description},
        )
        audit_record(
            tenant=tenant,
            action="secret.created" if created else "secret.updated",
            target=name,
            actor=actor,
        )
    return secret


def tenant_secret_describe(*, secret, description: str, actor: Actor | None = None) -> None:
    """Change only a secret's description (its value stays as stored); audited."""
    with transaction.atomic():
        secret.description = description
        secret.save(update_fields=["description", "updated_at"])
        audit_record(tenant=secret.tenant, action="secret.updated", target=secret.name, actor=actor)


def tenant_secret_delete(*, secret, actor: Actor | None = None) -> None:
    """Delete a named secret (tools naming it fail to publish until it is set again)."""
    with transaction.atomic():
        audit_record(
            tenant=secret.tenant,
            action="secret.deleted",
            target=secret.name,
            actor=actor,
        )
        secret.delete()
