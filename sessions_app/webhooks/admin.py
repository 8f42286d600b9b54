"""Admin of webhook endpoints and deliveries (models in the ``tenants`` tables)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from sessions_app.webhooks import services as webhooks
from tenants.actors import Actor
from tenants.admin import secret_shown_once
from tenants.admin_scoping import (
    MANAGE_TENANT_ACTIONS,
    TenantScopedAdminMixin,
)
from tenants.models import (
    Tenant,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)
from tenants.secrets import encryption_problem


class WebhookEndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["tenant", "agent", "url", "events", "is_active"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not self.instance.pk and (problem := encryption_problem()):
            raise forms.ValidationError(problem)  # the signing secret is stored encrypted
        return cleaned


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_path = "tenant"
    tenant_actions = MANAGE_TENANT_ACTIONS
    form = WebhookEndpointForm
    list_display = [
        "url",
        "tenant",
        "agent",
        "event_list",
        "is_active",
        "health",
        "failure_streak",
        "delivery_count",
        "failed_delivery_count",
    ]
    list_filter = ["is_active", "tenant", ("disabled_at", admin.EmptyFieldListFilter)]
    search_fields = ["url", "tenant__slug", "agent__agent_id"]
    list_select_related = ["tenant", "agent"]
    readonly_fields = [
        "failure_streak",
        "disabled_at",
        "disabled_reason",
        "created_at",
        "updated_at",
        "recent_deliveries",
    ]
    actions = ["enable_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEndpoint]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                _deliveries=Count("deliveries"),
                _failed=Count(
                    "deliveries", filter=Q(deliveries__status=WebhookDeliveryStatus.FAILED)
                ),
            )
        )

    def get_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> list[str]:
        editable = ["tenant", "agent", "url", "events", "is_active"]
        return editable if obj is None else [*editable, *self.readonly_fields]

    def get_readonly_fields(
        self, request: HttpRequest, obj: WebhookEndpoint | None = None
    ) -> list[str]:
        return [] if obj is None else [*self.readonly_fields, "tenant"]

    @admin.display(description="Events")
    def event_list(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.events)

    @admin.display(description="Health")
    def health(self, obj: WebhookEndpoint) -> str:
        if obj.disabled_at is not None and not obj.is_active:
            return format_html(
                '<strong style="color: #ba2121">Auto-disabled {}</strong>',
                f"{obj.disabled_at:%Y-%m-%d %H:%M}",
            )
        if not obj.is_active:
            return "Inactive"
        return f"{obj.failure_streak} failing" if obj.failure_streak else "OK"

    @admin.display(description="Deliveries", ordering="_deliveries")
    def delivery_count(self, obj: WebhookEndpoint) -> int:
        return obj._deliveries

    @admin.display(description="Failed", ordering="_failed")
    def failed_delivery_count(self, obj: WebhookEndpoint) -> int:
        return obj._failed

    @admin.display(description="Recent deliveries")
    def recent_deliveries(self, obj: WebhookEndpoint) -> str:
        deliveries = obj.deliveries.order_by("-created_at")[:10]
        log_url = reverse("admin:tenants_webhookdelivery_changelist")
        rows = format_html_join(
            "",
            "<tr><td><a href='{}'>{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:tenants_webhookdelivery_change", args=[d.pk]),
                    f"{d.created_at:%Y-%m-%d %H:%M:%S}",
                    d.event,
                    d.status,
                    d.attempts,
                    d.last_response_code or d.last_error[:80] or "",
                )
                for d in deliveries
            ),
        )
        return format_html(
            "<table><tr><th>Created</th><th>Event</th><th>Status</th><th>Attempts</th>"
            "<th>Last answer</th></tr>{}</table>"
            "<p><a href='{}?endpoint__id__exact={}'>Full delivery log</a></p>",
            rows,
            log_url,
            obj.pk,
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        endpoint = self.get_object(request, object_id)
        if request.method == "GET" and endpoint is not None and endpoint.disabled_at:
            self.message_user(
                request,
                f"{endpoint.disabled_reason} Fix the receiver, then tick “Is active” (or use "
                "the “Re-enable” action) to turn it back on; the failure streak starts over.",
                messages.WARNING,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool
    ) -> None:
        if not change:
            created = webhooks.webhook_endpoint_create(
                tenant=obj.tenant,
                agent=obj.agent,
                url=obj.url,
                events=obj.events,
                is_active=obj.is_active,
                actor=Actor.from_request(request),
            )
            form.instance = created.endpoint
            request._webhook_secret = created.secret  # shown once by response_add, never stored
            request._webhook_endpoint = created.endpoint  # ``obj`` is the unsaved form copy
            return
        webhooks.webhook_endpoint_update(
            endpoint=obj, changed=form.changed_data, actor=Actor.from_request(request)
        )

    def response_add(
        self, request: HttpRequest, obj: WebhookEndpoint, post_url_continue: Any = None
    ) -> HttpResponse:
        secret = getattr(request, "_webhook_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        return secret_shown_once(
            self,
            request,
            "admin/tenants/webhookendpoint/created.html",
            "Webhook endpoint created",
            endpoint=request._webhook_endpoint,
            secret=secret,
            signature_header=webhooks.SIGNATURE_HEADER,
            timestamp_header=webhooks.TIMESTAMP_HEADER,
        )

    @admin.action(
        description="Re-enable selected endpoints (resets the failure streak)",
        permissions=["change"],
    )
    def enable_selected(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset.select_related("tenant"):
            webhooks.webhook_endpoint_enable(endpoint=endpoint, actor=Actor.from_request(request))
        self.message_user(request, f"Re-enabled {queryset.count()} endpoint(s).", messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    """The delivery log: view-only rows, plus a re-send action."""

    tenant_path = "endpoint__tenant"
    tenant_actions = MANAGE_TENANT_ACTIONS

    list_display = [
        "created_at",
        "event",
        "endpoint",
        "tenant",
        "status",
        "attempts",
        "last_response_code",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "event", "endpoint__tenant"]
    search_fields = ["id", "endpoint__url", "endpoint__tenant__slug"]
    list_select_related = ["endpoint__tenant"]
    date_hierarchy = "created_at"
    fields = [
        "id",
        "endpoint",
        "event",
        "status",
        "attempts",
        "last_response_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
        "resent_from",
        "created_at",
        "formatted_payload",
    ]
    readonly_fields = fields
    actions = ["resend_selected"]

    @admin.display(description="Tenant", ordering="endpoint__tenant__slug")
    def tenant(self, obj: WebhookDelivery) -> Tenant:
        return obj.endpoint.tenant

    @admin.display(description="Payload")
    def formatted_payload(self, obj: WebhookDelivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The list needs it for the re-send action; single rows are never edited.
        return obj is None and super().has_change_permission(request)

    @admin.action(description="Re-send selected deliveries", permissions=["change"])
    def resend_selected(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        sent = skipped = 0
        for delivery in queryset.select_related("endpoint"):
            if webhooks.webhook_delivery_resend(
                delivery=delivery, actor=Actor.from_request(request)
            ):
                sent += 1
            else:
                skipped += 1
        self.message_user(request, f"Queued {sent} re-send(s).", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"Skipped {skipped} delivery(ies) of disabled endpoints; re-enable them first.",
                messages.WARNING,
            )
