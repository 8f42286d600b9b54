"""Tenants, their members and roles, quotas, rate limits and API keys."""

from __future__ import annotations

import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from tenants.roles import Role

TENANT_SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$"
"""THE tenant slug format (the ``X-Tenant`` header is checked against it too)."""
slug_validator = RegexValidator(
    TENANT_SLUG_PATTERN,
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
    # Retention (days; empty keeps forever), applied daily by sessions_app.tasks.apply_retention.
    retention_days_turns = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Delete conversation turns older than this many days.",
    )
    retention_days_reports = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Delete post-session reports older than this many days.",
    )
    retention_days_webhook_deliveries = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Delete finished webhook deliveries older than this many days.",
    )
    retention_days_audit_events = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Delete audit events older than this many days.",
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
    ANTHROPIC = "anthropic", "Anthropic"
    CARTESIA = "cartesia", "Cartesia"
    TOGETHER = "together", "Together AI"
    GROQ = "groq", "Groq"
    OPENROUTER = "openrouter", "OpenRouter"


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


SECRET_NAME_REGEX = r"\A[A-Za-z_][A-Za-z0-9_]{0,63}\Z"
"""A tenant secret's name, as tool headers name it: ``{{ secret.crm_token }}``."""


class TenantSecret(models.Model):
    """A named secret of a tenant (tool and MCP credentials), encrypted at rest with the
    provider credentials' key (``tenants.secrets``). Never displayed or returned."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="secrets")
    name = models.CharField(
        max_length=64,
        validators=[
            RegexValidator(SECRET_NAME_REGEX, "Letters, digits and _, not starting with a digit.")
        ],
    )
    description = models.CharField(max_length=200, blank=True)
    encrypted_value = models.TextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant__slug", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="unique_tenant_secret_name")
        ]

    def __str__(self) -> str:
        return f"{self.tenant} secret {self.name}"


# --- Webhooks (signing and delivery live in ``sessions_app.webhooks``) ---


class WebhookEvent(models.TextChoices):
    SESSION_STARTED = "session.started", "Session started (the agent joined)"
    SESSION_ENDED = "session.ended", "Session ended"
    SESSION_FAILED = "session.failed", "Session failed"
    SESSION_REPORT_READY = "session.report_ready", "Session report ready"
    AGENT_PUBLISHED = "agent.published", "Agent published (or rolled back)"
    BUDGET_THRESHOLD = "tenant.budget_threshold", "Budget threshold reached (once a month)"
    SESSION_ANALYSIS_READY = "session.analysis_ready", "Post-session analysis ready"


def validate_webhook_events(value: object) -> None:
    """A non-empty list of distinct known event names."""
    if not isinstance(value, list) or not value:
        raise ValidationError("Choose at least one event.")
    unknown = [name for name in value if name not in WebhookEvent.values]
    if unknown:
        raise ValidationError(
            f"Unknown event(s) {', '.join(map(repr, unknown))}; "
            f"expected some of {', '.join(WebhookEvent.values)}."
        )
    if len(set(value)) != len(value):
        raise ValidationError("Each event may be listed once.")


class WebhookEndpoint(models.Model):
    """Where a tenant's events are POSTed, signed with the endpoint's secret.

    The secret is stored encrypted (``tenants.secrets``) and shown once, on creation.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="webhook_endpoints")
    agent = models.ForeignKey(
        "agents_config.Agent",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        help_text="Only this agent's events. Empty: every agent of the tenant.",
    )
    url = models.CharField(
        "URL",
        max_length=2000,
        help_text="http(s) only; private and loopback addresses are refused.",
    )
    encrypted_secret = models.TextField(editable=False)
    events = models.JSONField(default=list, validators=[validate_webhook_events])
    is_active = models.BooleanField(default=True)
    failure_streak = models.PositiveIntegerField(
        default=0, editable=False, help_text="Failed deliveries in a row (after all retries)."
    )
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant__slug", "url"]
        indexes = [models.Index(fields=["tenant", "is_active"])]

    def __str__(self) -> str:
        return f"{self.tenant} → {self.url}"

    def clean(self) -> None:
        from tenants.outbound import OutboundURLRefused, check_url

        if (
            self.agent_id is not None
            and self.tenant_id is not None
            and self.agent.tenant_id != self.tenant_id
        ):
            raise ValidationError({"agent": "The agent belongs to another tenant."})
        if self.url:
            try:
                check_url(self.url)
            except OutboundURLRefused as exc:
                raise ValidationError({"url": str(exc)}) from exc

    def set_secret(self, secret: str) -> None:
        from tenants.secrets import encrypt_secret

        self.encrypted_secret = encrypt_secret(secret)

    def get_secret(self) -> str:
        from tenants.secrets import decrypt_secret

        return decrypt_secret(self.encrypted_secret)


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event sent to one endpoint, with its attempts (the delivery log)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    payload = models.JSONField(help_text="The JSON body, exactly as sent.")
    status = models.CharField(
        max_length=10, choices=WebhookDeliveryStatus.choices, default=WebhookDeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_response_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    resent_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="resends"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["endpoint", "-created_at"]),
            models.Index(fields=["status"]),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint.url} ({self.status})"
