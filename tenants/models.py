"""Tenants, their members and roles, quotas, rate limits and API keys."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from tenants.roles import Role

slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1-50 lowercase letters, digits and hyphens, not starting or ending with a hyphen.",
)


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"Unknown time zone {value!r}.")


class IsolationLevel(models.TextChoices):
    SESSION = "session", "Session"
    USER = "user", "User"
    ORGANIZATION = "organization", "Organization"


class Tenant(models.Model):
    """A customer organisation. Quotas left empty mean "unlimited"."""

    slug = models.CharField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    isolation_level = models.CharField(
        max_length=20, choices=IsolationLevel.choices, default=IsolationLevel.SESSION
    )
    is_active = models.BooleanField(default=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])

    max_concurrent_sessions = models.PositiveIntegerField(
        null=True, blank=True, help_text="Sessions open at the same time. Empty: unlimited."
    )
    max_sessions_per_month = models.PositiveIntegerField(
        null=True, blank=True, help_text="Sessions started per calendar month. Empty: unlimited."
    )
    max_sessions_per_user_per_month = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Per end user and month; enforced when isolation level is 'user'.",
    )
    api_requests_per_minute = models.PositiveIntegerField(
        default=600, validators=[MinValueValidator(1)], help_text="API rate limit per tenant."
    )

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    def quotas(self) -> dict[str, int | None]:
        return {
            "max_concurrent_sessions": self.max_concurrent_sessions,
            "max_sessions_per_month": self.max_sessions_per_month,
            "max_sessions_per_user_per_month": self.max_sessions_per_user_per_month,
        }

    def rate_limits(self) -> dict[str, int]:
        return {"api_requests_per_minute": self.api_requests_per_minute}


class Membership(models.Model):
    """A user's role in a tenant."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="unique_membership")]
        ordering = ["tenant__slug", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.role})"


class ApiKey(models.Model):
    """A tenant API key. Only a SHA-256 hash of the secret is stored; the key is shown once."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class AuditEvent(models.Model):
    """Who did what to a tenant's configuration; written by services, read in the admin."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True, help_text="User or API key name.")
    action = models.CharField(max_length=50)
    target = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.target}"


class CredentialProvider(models.TextChoices):
    OPENAI = "openai", "OpenAI (and OpenAI-compatible)"
    DEEPGRAM = "deepgram", "Deepgram"
    LANGFUSE = "langfuse", "Langfuse"


class ProviderCredential(models.Model):
    """A tenant's own provider API key, encrypted at rest (``tenants.secrets``).

    The worker prefers it over the environment's key. The plain value is never displayed.
    """

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="provider_credentials"
    )
    provider = models.CharField(max_length=20, choices=CredentialProvider.choices)
    encrypted_value = models.TextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant__slug", "provider"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "provider"], name="unique_provider_credential"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant} {self.provider} credential"

    def set_value(self, value: str) -> None:
        from tenants.secrets import encrypt_secret

        self.encrypted_value = encrypt_secret(value)

    def get_value(self) -> str:
        from tenants.secrets import decrypt_secret

        return decrypt_secret(self.encrypted_value)
