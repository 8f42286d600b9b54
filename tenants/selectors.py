"""Reads for tenants, memberships and API keys."""

from __future__ import annotations

import hmac

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from tenants.models import ApiKey, Membership
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
