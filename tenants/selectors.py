"""Reads for tenants, memberships and API keys."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from tenants.models import ApiKey, Membership, Tenant
from tenants.services import API_KEY_PREFIX, hash_api_key


def api_key_from_raw(raw_key: str) -> ApiKey | None:
    """The active key matching ``raw_key``, or None. Compares hashes in constant time."""
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    # No ORDER BY (``first()`` would add one): prefix is unique.
    found = list(ApiKey.objects.select_related("tenant").filter(prefix=parts[1]).order_by()[:1])
    api_key = found[0] if found else None
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


def tenant_role_of(*, user: AbstractBaseUser, tenant: Tenant) -> str | None:
    membership = Membership.objects.filter(user=user, tenant=tenant).only("role").first()
    return membership.role if membership else None


def tenant_usage(*, tenant: Tenant) -> dict[str, int]:
    """Current usage counted from sessions: open now, and started this calendar month
    (tenant's time zone). Kept here so the source can move to a usage table."""
    import datetime as dt
    import zoneinfo

    from sessions_app.models import OPEN_STATUSES, Session
    from sessions_app.services import month_period

    first_day, _ = month_period(tenant)
    zone = zoneinfo.ZoneInfo(tenant.time_zone)
    month_start = dt.datetime.combine(first_day, dt.time(), tzinfo=zone)
    sessions = Session.objects.filter(tenant=tenant)
    return {
        "open_sessions": sessions.filter(status__in=OPEN_STATUSES).count(),
        "sessions_this_month": sessions.filter(created_at__gte=month_start).count(),
    }


def tenant_spend(*, tenant: Tenant) -> dict[str, Any]:
    """This month's cost and budgets (computed by ``sessions_app.billing``)."""
    from sessions_app.billing import tenant_spend as month_spend

    return month_spend(tenant=tenant)


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
