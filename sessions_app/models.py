"""Conversations with an agent (sessions) and their structured turns."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.utils import timezone

from agents_config.models import Agent, AgentVersion
from tenants.models import Tenant


class SessionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROVISIONED = "provisioned", "Provisioned"
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"
    FAILED = "failed", "Failed"


OPEN_STATUSES = (SessionStatus.PENDING, SessionStatus.PROVISIONED, SessionStatus.ACTIVE)


class Session(models.Model):
    """A session pins one published version. Agent and version labels are kept as text too,
    so history survives the agent's deletion."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="sessions")
    agent = models.ForeignKey(Agent, null=True, on_delete=models.SET_NULL, related_name="sessions")
    agent_version = models.ForeignKey(
        AgentVersion, null=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    agent_slug = models.CharField(max_length=64)
    version_label = models.CharField(max_length=20)
    user_id = models.CharField(max_length=200)
    user_details = models.JSONField(default=dict, blank=True)
    overrides = models.JSONField(default=dict, blank=True)
    room_name = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=12, choices=SessionStatus.choices, default=SessionStatus.PENDING
    )
    failure_reason = models.TextField(blank=True)
    # Which agent worker (LiveKit worker id) and job ran the session: for tracing an incident
    # from a session to the worker's logs. Set when the worker activates the session.
    worker_id = models.CharField(max_length=64, blank=True)
    job_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    cost_usd = models.DecimalField(
        max_digits=14, decimal_places=6, default=0, help_text="Spent so far (see billing)."
    )
    reserved_usd = models.DecimalField(
        max_digits=14,
        decimal_places=6,
        default=0,
        help_text="Budget held for this session while it is open (see billing).",
    )
    handoff_versions = models.JSONField(
        null=True,
        blank=True,
        help_text="Versions of the agents reachable by handoff, pinned at start: "
        '{agent_id: {"version", "version_id"}} (null: not pinned yet).',
    )
    handoffs = models.JSONField(
        default=list,
        blank=True,
        help_text="Each handoff between agents: from/to agent and version, tool, time.",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "status"]),
            models.Index(fields=["tenant", "created_at"]),
            models.Index(fields=["agent", "status"]),
            # Added concurrently (0010_session_list_indexes): the agent admin's recent-turn
            # latency and per-agent lists; end-user filters within a tenant.
            models.Index(fields=["agent", "-created_at"], name="session_agent_recent"),
            models.Index(fields=["tenant", "user_id", "-created_at"], name="session_tenant_user"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_slug}@{self.version_label} {self.user_id} ({self.status})"


class SessionTransition(models.Model):
    """Every status change of a session, with its time."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, choices=SessionStatus.choices)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["session", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status}"


class Turn(models.Model):
    """One exchange: the user's text and the agent's structured, validated reply."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="turns")
    index = models.PositiveIntegerField()
    version_label = models.CharField(max_length=20, blank=True)
    agent_slug = models.CharField(
        max_length=64, blank=True, help_text="The agent that spoke (after a handoff, the target)."
    )
    user_text = models.TextField(blank=True)
    spoken_text = models.TextField(blank=True)
    structured_output = models.JSONField(default=dict, blank=True)
    validation_errors = models.JSONField(default=list, blank=True)
    llm_ttft_ms = models.FloatField(null=True, blank=True, help_text="LLM time to first token.")
    first_spoken_ms = models.FloatField(
        null=True, blank=True, help_text="Time to first spoken text."
    )
    tts_ttfb_ms = models.FloatField(null=True, blank=True, help_text="TTS time to first byte.")
    e2e_latency_ms = models.FloatField(
        null=True, blank=True, help_text="End of user speech to the first audio frame."
    )
    end_of_turn_delay_ms = models.FloatField(
        null=True, blank=True, help_text="End of user speech to the end-of-turn decision."
    )
    transcription_delay_ms = models.FloatField(
        null=True, blank=True, help_text="End of user speech to the final transcript."
    )
    spoken_complete_ms = models.FloatField(
        null=True,
        blank=True,
        help_text="Turn start to the spoken text complete (its speech segment flushed).",
    )
    interrupted = models.BooleanField(
        default=False,
        help_text="The user barged in: the spoken text is what was heard before the cut.",
    )
    usage = models.JSONField(
        default=dict, blank=True, help_text="Provider usage of the turn (see billing)."
    )
    cost_usd = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    tool_calls = models.JSONField(
        default=list,
        blank=True,
        help_text="Tool calls of the turn: name, arguments, status, duration_ms, result "
        "(truncated).",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["session", "index"]
        constraints = [
            models.UniqueConstraint(fields=["session", "index"], name="unique_turn_index")
        ]

    def __str__(self) -> str:
        return f"turn {self.index}"


class QuotaKind(models.TextChoices):
    TENANT_MONTH = "tenant_month", "Sessions per month (tenant)"
    USER_MONTH = "user_month", "Sessions per month (end user)"


class UsageCounter(models.Model):
    """Sessions started in one calendar month, per tenant (and per end user when counted).

    One row per period: a new month starts a new row, so the monthly reset loses no history.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="usage_counters")
    kind = models.CharField(max_length=20, choices=QuotaKind.choices)
    period_start = models.DateField(help_text="First day of the month, in the tenant's zone.")
    user_id = models.CharField(max_length=200, blank=True, default="")
    sessions_started = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant", "-period_start", "kind", "user_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "period_start", "user_id"], name="unique_usage_counter"
            )
        ]

    def __str__(self) -> str:
        who = f" {self.user_id}" if self.user_id else ""
        return f"{self.tenant} {self.kind}{who} {self.period_start:%Y-%m}: {self.sessions_started}"


class SessionReport(models.Model):
    """The post-session report, built when the session ends (see ``sessions_app.reports``)."""

    session = models.OneToOneField(Session, on_delete=models.CASCADE, related_name="report")
    document = models.JSONField()
    analysis_status = models.CharField(
        max_length=10,
        blank=True,
        default="",
        help_text="Post-session analysis: pending, done, invalid, failed or skipped.",
    )
    analysis = models.JSONField(null=True, blank=True, help_text="The validated outcome.")
    analysis_errors = models.JSONField(default=list, blank=True)
    analysis_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"report for {self.session_id}"


# Telephony models live in their own module; imported here so Django registers them.
from sessions_app.telephony.models import (  # noqa: E402, F401
    CallStatusChange,
    Campaign,
    CampaignRecipient,
    OutboundTrunk,
    PhoneCall,
    PhoneNumber,
)

# --- Economics: prices, budgets (formulas and enforcement live in ``sessions_app.billing``) ---


class PriceMetric(models.TextChoices):
    PROMPT_TOKENS = "prompt_tokens", "LLM prompt tokens (not cached)"
    CACHED_TOKENS = "cached_tokens", "LLM cached prompt tokens"
    COMPLETION_TOKENS = "completion_tokens", "LLM completion tokens"
    TTS_CHARACTERS = "tts_characters", "TTS characters"
    STT_SECONDS = "stt_seconds", "STT audio seconds"
    SESSION_MINUTES = "session_minutes", "Session minutes (provider 'platform')"


class ModelPrice(models.Model):
    """The price of one unit of usage of a provider's model, from a date on.

    ``model`` ``*`` is the provider's fallback. A row with a tenant overrides the platform's
    row (tenant empty) for that tenant, e.g. a negotiated rate.
    """

    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="prices"
    )
    provider = models.CharField(max_length=40)
    model = models.CharField(max_length=120, help_text="Model name, or * for any model.")
    metric = models.CharField(max_length=20, choices=PriceMetric.choices)
    usd_per_million = models.DecimalField(
        max_digits=14, decimal_places=6, help_text="US dollars per million units."
    )
    effective_from = models.DateField()

    class Meta:
        ordering = ["provider", "model", "metric", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "provider", "model", "metric", "effective_from"],
                name="unique_tenant_model_price",
            ),
            models.UniqueConstraint(
                fields=["provider", "model", "metric", "effective_from"],
                condition=models.Q(tenant__isnull=True),
                name="unique_platform_model_price",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} {self.metric}: ${self.usd_per_million}/M"


class Budget(models.Model):
    """A monthly spending limit for the tenant (agent empty) or for one of its agents."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="budgets")
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.CASCADE, related_name="budgets"
    )
    monthly_limit_usd = models.DecimalField(max_digits=14, decimal_places=6)
    threshold_percent = models.PositiveSmallIntegerField(
        default=80, help_text="Send tenant.budget_threshold once a month at this share."
    )
    session_reserve_usd = models.DecimalField(
        max_digits=14,
        decimal_places=6,
        default=Decimal("0.05"),
        help_text="Held per open session at creation (its expected cost).",
    )
    closing_line = models.TextField(
        blank=True,
        default="I'm sorry, this service has reached its usage limit for now. Goodbye.",
        help_text="What the agent says before ending a session that crossed the budget.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant", "agent"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "agent"], name="unique_agent_budget"),
            models.UniqueConstraint(
                fields=["tenant"],
                condition=models.Q(agent__isnull=True),
                name="unique_tenant_budget",
            ),
        ]

    def __str__(self) -> str:
        scope = self.agent.agent_id if self.agent_id else "tenant"
        return f"{self.tenant} {scope}: ${self.monthly_limit_usd}/month"


class BudgetAlert(models.Model):
    """A threshold notice sent for one budget in one month (at most one per month)."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="alerts")
    period_start = models.DateField()
    spent_usd = models.DecimalField(max_digits=14, decimal_places=6)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            models.UniqueConstraint(fields=["budget", "period_start"], name="unique_budget_alert")
        ]

    def __str__(self) -> str:
        return f"{self.budget} alert {self.period_start:%Y-%m}"
