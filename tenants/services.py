"""Writes for tenants, memberships and API keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction
from django.utils import timezone

from tenants.models import ApiKey, Membership, Tenant
from tenants.roles import Role

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
    **quotas: int | None,
) -> Tenant:
    tenant = Tenant(slug=slug, name=name, isolation_level=isolation_level, **quotas)
    tenant.full_clean()
    tenant.save()
    for role in Role.values:
        tenant_role_group(tenant=tenant, role=role)
    return tenant


@transaction.atomic
def membership_set(*, tenant: Tenant, user: AbstractBaseUser, role: str) -> Membership:
    """Give ``user`` exactly ``role`` in ``tenant`` (group membership follows the role)."""
    if role not in Role.values:
        raise ValueError(f"Unknown role {role!r}; expected one of {', '.join(Role.values)}.")
    membership, _ = Membership.objects.update_or_create(
        user=user, tenant=tenant, defaults={"role": role}
    )
    membership_sync_groups(membership=membership)
    return membership


def membership_sync_groups(*, membership: Membership) -> None:
    """Keep the user in the group of their role only (admin saves call this too)."""
    tenant, user = membership.tenant, membership.user
    for role in Role.values:
        group = tenant_role_group(tenant=tenant, role=role)
        if role == membership.role:
            user.groups.add(group)
        else:
            user.groups.remove(group)


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    for role in Role.values:
        membership.user.groups.remove(tenant_role_group(tenant=membership.tenant, role=role))
    membership.delete()


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    raw_key: str  # shown to the caller once, never stored


def api_key_create(
    *,
    tenant: Tenant,
    name: str,
    role: str,
    created_by: AbstractBaseUser | None = None,
    expires_at=None,
) -> IssuedApiKey:
    """Create a key; the returned raw key is the only time the secret exists in clear."""
    if role not in Role.values:
        raise ValueError(f"Unknown role {role!r}; expected one of {', '.join(Role.values)}.")
    prefix = secrets.token_hex(6)
    raw_key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        tenant=tenant,
        name=name,
        role=role,
        prefix=prefix,
        key_hash=hash_api_key(raw_key),
        created_by=created_by,
        expires_at=expires_at,
    )
    return IssuedApiKey(api_key=api_key, raw_key=raw_key)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_mark_used(*, api_key: ApiKey) -> None:
    """Record use at most once a minute, to keep authentication off the write path."""
    now = timezone.now()
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


def audit_record(
    *,
    tenant: Tenant,
    action: str,
    target: str = "",
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    details: dict | None = None,
) -> None:
    """Record a configuration change (call inside the writing transaction)."""
    from tenants.models import AuditEvent

    AuditEvent.objects.create(
        tenant=tenant,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=actor_label or (actor.get_username() if actor is not None else "system"),
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
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
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
            actor_label=actor_label,
        )
    return secret


def tenant_secret_delete(
    *, secret, actor: AbstractBaseUser | None = None, actor_label: str = ""
) -> None:
    """Delete a named secret (tools naming it fail to publish until it is set again)."""
    with transaction.atomic():
        audit_record(
            tenant=secret.tenant,
            action="secret.deleted",
            target=secret.name,
            actor=actor,
            actor_label=actor_label,
        )
        secret.delete()
