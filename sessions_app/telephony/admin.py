"""Admin for telephony: numbers, the outbound trunk, calls and campaigns (CSV upload).

Writes go through ``sessions_app.telephony.services`` so provisioning and audit happen as in
the API.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from agents_config.contracts import ContractError
from sessions_app.telephony import services
from sessions_app.telephony.models import (
    CallStatusChange,
    Campaign,
    CampaignRecipient,
    OutboundTrunk,
    PhoneCall,
    PhoneNumber,
    validate_e164,
)
from tenants.actors import Actor
from tenants.admin_scoping import TenantScopedAdminMixin, TenantScopedInlineMixin
from tenants.roles import Action

CSV_MAX_BYTES = 2 * 1024 * 1024

#: Every role reads telephony; only a role with ``MANAGE_TELEPHONY`` writes it (it spends the
#: tenant's money with its SIP provider).
TELEPHONY_ACTIONS = {
    "view": Action.READ,
    "add": Action.MANAGE_TELEPHONY,
    "change": Action.MANAGE_TELEPHONY,
    "delete": Action.MANAGE_TELEPHONY,
}


@admin.register(PhoneNumber)
class PhoneNumberAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_path = "tenant"
    tenant_actions = TELEPHONY_ACTIONS
    list_display = ["number", "tenant", "agent", "pinned_version", "provisioning_status"]
    list_filter = ["provisioning_status", "tenant"]
    search_fields = ["number", "agent__agent_id"]
    fields = [
        "tenant",
        "number",
        "agent",
        "pinned_version",
        "over_quota_message",
        "provisioning_status",
        "provisioning_error",
        "livekit_trunk_id",
        "livekit_dispatch_rule_id",
    ]
    readonly_fields = [
        "provisioning_status",
        "provisioning_error",
        "livekit_trunk_id",
        "livekit_dispatch_rule_id",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fixed = ["tenant", "number"] if obj is not None else []
        return [*fixed, *self.readonly_fields]

    def save_model(self, request: HttpRequest, obj: PhoneNumber, form: Any, change: bool) -> None:
        actor = {"actor": Actor.from_request(request)}
        if change:
            services.phone_number_update(
                phone=obj,
                agent=obj.agent,
                pinned_version=obj.pinned_version,
                over_quota_message=obj.over_quota_message,
                **actor,
            )
        else:
            created = services.phone_number_create(
                tenant=obj.tenant,
                number=obj.number,
                agent=obj.agent,
                pinned_version=obj.pinned_version,
                over_quota_message=obj.over_quota_message,
                **actor,
            )
            obj.pk = created.pk

    def delete_model(self, request: HttpRequest, obj: PhoneNumber) -> None:
        services.phone_number_delete(phone=obj, actor=Actor.from_request(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[PhoneNumber]) -> None:
        for phone in queryset.select_related("tenant"):
            services.phone_number_delete(phone=phone, actor=Actor.from_request(request))


class OutboundTrunkForm(forms.ModelForm):
    auth_password = forms.CharField(
        required=False,
        widget=forms.PasswordInput,
        help_text="Stored encrypted; leave empty to keep the current password.",
    )

    class Meta:
        model = OutboundTrunk
        fields = ["tenant", "address", "numbers", "transport", "auth_username"]


@admin.register(OutboundTrunk)
class OutboundTrunkAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_path = "tenant"
    tenant_actions = TELEPHONY_ACTIONS
    form = OutboundTrunkForm
    list_display = ["tenant", "address", "provisioning_status", "livekit_trunk_id"]
    readonly_fields = ["provisioning_status", "provisioning_error", "livekit_trunk_id"]

    def save_model(self, request: HttpRequest, obj: OutboundTrunk, form: Any, change: bool) -> None:
        saved = services.outbound_trunk_set(
            tenant=obj.tenant,
            address=obj.address,
            numbers=list(obj.numbers or []),
            transport=obj.transport,
            auth_username=obj.auth_username,
            auth_password=form.cleaned_data.get("auth_password") or None,
            actor=Actor.from_request(request),
        )
        obj.pk = saved.pk


class CallStatusChangeInline(TenantScopedInlineMixin, admin.TabularInline):
    model = CallStatusChange
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "detail", "created_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PhoneCall)
class PhoneCallAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_path = "tenant"
    tenant_actions = TELEPHONY_ACTIONS
    list_display = ["created_at", "direction", "from_number", "to_number", "call_status"]
    list_filter = ["direction", "call_status", "tenant"]
    search_fields = ["from_number", "to_number"]
    inlines = [CallStatusChangeInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def parse_recipients_csv(data: bytes) -> list[dict[str, Any]]:
    """Rows of a CSV with a ``phone`` column; every other column is a per-recipient variable."""
    if len(data) > CSV_MAX_BYTES:
        raise ContractError({"recipients_csv": ["The file is larger than 2 MiB."]})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ContractError({"recipients_csv": ["The file is not UTF-8 text."]}) from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "phone" not in reader.fieldnames:
        raise ContractError({"recipients_csv": ["The first row must name a 'phone' column."]})
    return [
        {
            "phone": (row.pop("phone") or "").strip(),
            "variables": {k: v for k, v in row.items() if k and v not in (None, "")},
        }
        for row in reader
    ]


class CampaignForm(forms.ModelForm):
    recipients_csv = forms.FileField(
        required=False,
        help_text="CSV with a 'phone' column (E.164); other columns become the recipient's "
        "variables (user_details).",
    )

    class Meta:
        model = Campaign
        fields = [
            "tenant",
            "name",
            "agent",
            "from_number",
            "window_start",
            "window_end",
            "window_weekdays",
            "max_concurrent_calls",
            "max_attempts",
            "retry_delay_minutes",
            "voicemail_action",
            "voicemail_message",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        upload = cleaned.get("recipients_csv")
        self.recipients: list[dict[str, Any]] = []
        if upload:
            try:
                self.recipients = parse_recipients_csv(upload.read())
            except ContractError as exc:
                for messages_list in exc.errors.values():
                    self.add_error("recipients_csv", messages_list)
            for line, row in enumerate(self.recipients, start=2):
                try:
                    validate_e164(row["phone"])
                except forms.ValidationError as exc:
                    self.add_error("recipients_csv", f"line {line}: {exc.messages[0]}")
        return cleaned


class RecipientInline(TenantScopedInlineMixin, admin.TabularInline):
    model = CampaignRecipient
    extra = 0
    fields = ["phone", "variables", "status", "attempts", "next_attempt_at", "session"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Campaign)
class CampaignAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_path = "tenant"
    tenant_actions = TELEPHONY_ACTIONS
    form = CampaignForm
    list_display = ["name", "tenant", "agent", "status", "created_at"]
    list_filter = ["status", "tenant"]
    readonly_fields = ["status"]
    inlines = [RecipientInline]
    actions = ["start_campaigns", "pause_campaigns", "resume_campaigns", "cancel_campaigns"]

    def save_model(self, request: HttpRequest, obj: Campaign, form: Any, change: bool) -> None:
        try:
            if change:
                obj.save()
                services.campaign_add_recipients(campaign=obj, recipients=form.recipients)
            else:
                fields = {
                    name: form.cleaned_data[name]
                    for name in CampaignForm.Meta.fields
                    if name not in ("tenant", "name", "agent")
                }
                created = services.campaign_create(
                    tenant=obj.tenant,
                    agent=obj.agent,
                    name=obj.name,
                    recipients=form.recipients,
                    actor=Actor.from_request(request),
                    **fields,
                )
                obj.pk = created.pk
        except ContractError as exc:  # the form validated the rows; this is a safety net
            bad = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.errors.items())
            messages.error(request, f"Recipients not added: {bad}")

    def _control(self, request: HttpRequest, queryset: QuerySet[Campaign], action: str) -> None:
        done = sum(
            services.campaign_control(campaign=c, action=action, actor=Actor.from_request(request))
            for c in queryset.select_related("tenant")
        )
        self.message_user(request, f"{action}: {done} of {queryset.count()} campaign(s).")

    @admin.action(description="Start selected campaigns")
    def start_campaigns(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        self._control(request, queryset, "start")

    @admin.action(description="Pause selected campaigns")
    def pause_campaigns(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        self._control(request, queryset, "pause")

    @admin.action(description="Resume selected campaigns")
    def resume_campaigns(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        self._control(request, queryset, "resume")

    @admin.action(description="Cancel selected campaigns")
    def cancel_campaigns(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        self._control(request, queryset, "cancel")
