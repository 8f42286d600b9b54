"""Tenant change events, sent after the writing transaction commits (never on rollback)."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

from tenants.models import Tenant

# kwargs: tenant_pk, tenant_id (slug), provider, action ("set" | "deleted"); never the value.
credential_changed = Signal()


def emit_credential_change(*, tenant: Tenant, provider: str, action: str) -> None:
    payload = {
        "tenant_pk": tenant.pk,
        "tenant_id": tenant.slug,
        "provider": provider,
        "action": action,
    }
    transaction.on_commit(lambda: credential_changed.send(sender=Tenant, **payload))
