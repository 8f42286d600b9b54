"""Who performs a write: the one value every service takes as ``actor`` for its audit trail.

A user (admin, API session), an API key, a management command or the system. Services
record ``actor.user`` (if any) and ``actor.label`` in the audit log and, where a row names
its author (``created_by``, a test run's ``triggered_by``), take it from here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from tenants.models import ApiKey, Tenant

SYSTEM_LABEL = "system"


@dataclass(frozen=True)
class Actor:
    """A user or an API key (or neither: a command, the system), the tenant it acts in when
    known, and the label the audit log shows."""

    label: str = SYSTEM_LABEL
    user: AbstractBaseUser | None = None
    api_key: ApiKey | None = None
    tenant: Tenant | None = None

    @classmethod
    def for_user(cls, user: AbstractBaseUser | None, *, tenant: Tenant | None = None) -> Actor:
        """A signed-in user (anonymous or missing users act as the system)."""
        if user is None or not user.is_authenticated:
            return cls.system()
        return cls(label=user.get_username(), user=user, tenant=tenant)

    @classmethod
    def for_api_key(cls, api_key: ApiKey) -> Actor:
        return cls(
            label=f"api-key:{api_key.name} ({api_key.prefix})",
            api_key=api_key,
            tenant=api_key.tenant,
        )

    @classmethod
    def from_request(cls, request: Any) -> Actor:
        """The caller of an admin or API request: the API key or user its tenant context
        resolved (API), else the signed-in user (admin)."""
        context = getattr(request, "tenant_context", None)
        if context is not None:
            return context.actor
        return cls.for_user(getattr(request, "user", None))

    @classmethod
    def command(cls, name: str) -> Actor:
        """A management command, named as its audit label (``import_agent``)."""
        return cls(label=name)

    @classmethod
    def system(cls, label: str = SYSTEM_LABEL) -> Actor:
        """The platform itself: Celery tasks, signal receivers, sweeps."""
        return cls(label=label or SYSTEM_LABEL)

    @property
    def audit_user(self) -> AbstractBaseUser | None:
        """The user to store as the author (``AuditEvent.actor``, ``created_by``), if any."""
        return self.user if self.user is not None and self.user.is_authenticated else None


def actor_or_system(actor: Actor | None) -> Actor:
    """Services take ``actor=None`` as the system."""
    return actor if actor is not None else Actor.system()
