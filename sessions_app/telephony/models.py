"""Telephony models: phone numbers, outbound trunks, calls and campaigns.

Imported by ``sessions_app.models`` so they belong to the ``sessions_app`` app.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from agents_config.models import Agent, AgentVersion
from tenants.models import Tenant

E164_PATTERN = re.compile(r"^\+[1-9][0-9]{6,14}$")
DEFAULT_OVER_QUOTA_MESSAGE = (
    "Sorry, we cannot take your call right now. Please try again later. Goodbye."
)


def validate_e164(value: str) -> None:
    """A phone number in E.164 form: ``+`` then 7 to 15 digits, no leading zero."""
    if not isinstance(value, str) or not E164_PATTERN.match(value):
        raise ValidationError(
            f"{value!r} is not an E.164 phone number (e.g. +14155550100).", code="e164"
        )


class ProvisioningStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROVISIONED = "provisioned", "Provisioned"
    FAILED = "failed", "Failed"


class PhoneNumber(models.Model):
    """A number of the tenant that reaches one agent: its live version, or a pinned one.

    LiveKit holds one inbound trunk and one individual dispatch rule per number; their ids are
    stored once provisioned.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="phone_numbers")
    number = models.CharField(max_length=16, unique=True, validators=[validate_e164])
    # Deleting the agent deletes its numbers; their LiveKit trunk and rule follow (post_delete).
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="phone_numbers")
    pinned_version = models.ForeignKey(
        AgentVersion,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Leave empty to answer with the agent's live version.",
    )
    over_quota_message = models.TextField(
        default=DEFAULT_OVER_QUOTA_MESSAGE,
        help_text="Said to a caller when the tenant's quota is reached, before hanging up.",
    )
    livekit_trunk_id = models.CharField(max_length=100, blank=True)
    livekit_dispatch_rule_id = models.CharField(max_length=100, blank=True)
    provisioning_status = models.CharField(
        max_length=12, choices=ProvisioningStatus.choices, default=ProvisioningStatus.PENDING
    )
    provisioning_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant", "number"]

    def __str__(self) -> str:
        return self.number


class OutboundTrunk(models.Model):
    """The tenant's SIP provider for outbound calls (one per tenant)."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="outbound_trunk")
    address = models.CharField(
        max_length=255, help_text="The provider's SIP host, e.g. example.pstn.twilio.com."
    )
    numbers = models.JSONField(default=list, help_text="Caller ids (E.164) the trunk may use.")
    transport = models.CharField(
        max_length=8,
        choices=[("auto", "auto"), ("udp", "udp"), ("tcp", "tcp"), ("tls", "tls")],
        default="auto",
    )
    auth_username = models.CharField(max_length=200, blank=True)
    auth_password_encrypted = models.TextField(blank=True, editable=False)
    livekit_trunk_id = models.CharField(max_length=100, blank=True)
    provisioning_status = models.CharField(
        max_length=12, choices=ProvisioningStatus.choices, default=ProvisioningStatus.PENDING
    )
    provisioning_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.tenant} via {self.address}"


class CallDirection(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"


class CallStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RINGING = "ringing", "Ringing"
    ANSWERED = "answered", "Answered"
    NO_ANSWER = "no_answer", "No answer"
    BUSY = "busy", "Busy"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected (over quota)"
    VOICEMAIL = "voicemail", "Voicemail"
    COMPLETED = "completed", "Completed"


FINAL_CALL_STATUSES = (
    CallStatus.VOICEMAIL,
    CallStatus.NO_ANSWER,
    CallStatus.BUSY,
    CallStatus.FAILED,
    CallStatus.REJECTED,
    CallStatus.COMPLETED,
)


class VoicemailAction(models.TextChoices):
    IGNORE = "ignore", "Ignore (talk as usual)"
    HANG_UP = "hang_up", "Hang up"
    LEAVE_MESSAGE = "leave_message", "Leave a message, then hang up"


class PhoneCall(models.Model):
    """The phone side of a session: numbers, direction, call status and its history."""

    session = models.OneToOneField(
        "sessions_app.Session", on_delete=models.CASCADE, related_name="phone_call"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="phone_calls")
    direction = models.CharField(max_length=8, choices=CallDirection.choices)
    from_number = models.CharField(max_length=32)
    to_number = models.CharField(max_length=32)
    call_status = models.CharField(
        max_length=10, choices=CallStatus.choices, default=CallStatus.QUEUED
    )
    sip_status_code = models.PositiveIntegerField(null=True, blank=True)
    sip_call_id = models.CharField(max_length=100, blank=True)
    participant_identity = models.CharField(max_length=200, blank=True)
    end_reason = models.CharField(max_length=200, blank=True)
    voicemail_action = models.CharField(
        max_length=14, choices=VoicemailAction.choices, default=VoicemailAction.HANG_UP
    )
    voicemail_message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "call_status"])]

    def __str__(self) -> str:
        return f"{self.direction} {self.from_number} -> {self.to_number} ({self.call_status})"


class CallStatusChange(models.Model):
    """Every call status change, with its time (the call's status history)."""

    call = models.ForeignKey(PhoneCall, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10, choices=CallStatus.choices)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["call", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status}"


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    CANCELLED = "cancelled", "Cancelled"
    COMPLETED = "completed", "Completed"


def default_weekdays() -> list[int]:
    return [0, 1, 2, 3, 4]


class Campaign(models.Model):
    """Outbound calls to a list of recipients, inside a calling window of the tenant's zone."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="campaigns")
    from_number = models.CharField(max_length=16, blank=True, validators=[validate_e164])
    status = models.CharField(
        max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    window_start = models.TimeField(default="09:00", help_text="Tenant's local time.")
    window_end = models.TimeField(default="18:00", help_text="Tenant's local time.")
    window_weekdays = models.JSONField(
        default=default_weekdays, help_text="Days calls may be placed: 0 = Monday ... 6 = Sunday."
    )
    max_concurrent_calls = models.PositiveIntegerField(default=1)
    max_attempts = models.PositiveIntegerField(
        default=3, help_text="Tries per recipient (no answer and busy are retried)."
    )
    retry_delay_minutes = models.PositiveIntegerField(default=30)
    voicemail_action = models.CharField(
        max_length=14, choices=VoicemailAction.choices, default=VoicemailAction.HANG_UP
    )
    voicemail_message = models.TextField(
        blank=True, help_text="Left on voicemail when the action is 'leave a message'."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class RecipientStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CALLING = "calling", "Calling"
    ANSWERED = "answered", "Answered"
    NO_ANSWER = "no_answer", "No answer (attempts used)"
    BUSY = "busy", "Busy (attempts used)"
    VOICEMAIL = "voicemail", "Voicemail"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class CampaignRecipient(models.Model):
    """One number to call, its variables, attempts and outcome (linked to its last session)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    phone = models.CharField(max_length=16, validators=[validate_e164])
    variables = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=RecipientStatus.choices, default=RecipientStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_call_status = models.CharField(max_length=10, blank=True)
    session = models.ForeignKey(
        "sessions_app.Session", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["campaign", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "phone"], name="unique_campaign_phone")
        ]
        indexes = [models.Index(fields=["campaign", "status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.phone} ({self.status})"
