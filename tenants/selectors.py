"""Reads for tenants, memberships and API keys."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from tenants.models import ApiKey, Membership, Tenant
from tenants.prepared import PreparedQuery, concrete_attnames, instance_from_values
from tenants.services import API_KEY_PREFIX, hash_api_key

# Every request with an API key runs this: compiled once (see tenants.prepared). No ORDER BY:
# the prefix is unique.
_API_KEY_WITH_TENANT = PreparedQuery(
    lambda prefix: (
        ApiKey.objects.filter(prefix=prefix)
        .order_by()
        .values_list(
            *concrete_attnames(ApiKey), *(f"tenant__{name}" for name in concrete_attnames(Tenant))
        )[:1]
    ),
    prefix="\x01prefix",
)


def api_key_from_raw(raw_key: str) -> ApiKey | None:
    """The active key matching ``raw_key``, or None. Compares hashes in constant time."""
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    rows = _API_KEY_WITH_TENANT.rows(prefix=parts[1])
    api_key = None
    if rows:
        split = len(concrete_attnames(ApiKey))
        api_key = instance_from_values(ApiKey, rows[0][:split])
        ApiKey.tenant.field.set_cached_value(api_key, instance_from_values(Tenant, rows[0][split:]))
    if api_key is None or not hmac.compare_digest(api_key.key_hash, hash_api_key(raw_key)):
        return None
    if not api_key.is_active or not api_key.tenant.is_active:
        return None
    return api_key


def memberships_for_user(*, user: AbstractBaseUser) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user, tenant__is_active=True).select_related("tenant")


def tenant_roles_of(*, user: AbstractBaseUser) -> dict[int, str]:
    """``{tenant id: role}`` of the user's memberships in active tenants."""
    return dict(memberships_for_user(user=user).values_list("tenant_id", "role"))


def tenant_secret_names(*, tenant_id: int) -> set[str]:
    """Names of the tenant's stored secrets (publish-time checks; no decryption)."""
    from tenants.models import TenantSecret

    return set(TenantSecret.objects.filter(tenant_id=tenant_id).values_list("name", flat=True))


def tenant_secret_values(*, tenant_id: int, names: Iterable[str]) -> dict[str, str]:
    """The decrypted values of the named secrets that exist (for the worker's tools only:
    never log or return them). A secret that cannot be decrypted is left out and logged
    by name."""
    import logging

    from django.core.exceptions import ImproperlyConfigured

    from tenants.models import TenantSecret
    from tenants.secrets import SecretDecryptionError, decrypt_secret

    wanted = set(names)
    if not wanted:
        return {}
    values: dict[str, str] = {}
    for name, token in TenantSecret.objects.filter(
        tenant_id=tenant_id, name__in=wanted
    ).values_list("name", "encrypted_value"):
        try:
            values[name] = decrypt_secret(token)
        except (SecretDecryptionError, ImproperlyConfigured) as exc:
            logging.getLogger(__name__).error(
                "tenant %s: cannot decrypt secret %s (%s)", tenant_id, name, exc
            )
    return values
