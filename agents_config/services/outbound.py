"""Who may change an agent's outbound URLs, and whether the platform's keys may go there."""

from __future__ import annotations

from typing import Any

from agents_config.contracts import AgentDocument, ContractError, OutboundURL, parse_document
from agents_config.services.common import OutboundURLForbidden
from tenants import outbound
from tenants.models import Tenant
from tenants.roles import Action, role_allows
from tenants.secrets import platform_key_refusal, tenant_has_credential


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
