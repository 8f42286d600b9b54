"""Tenant dashboard: memberships, quotas and rate limits, API keys (shown once), audit log."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from tenants import services, webhooks
from tenants.admin_scoping import (
    MANAGE_TENANT_ACTIONS,
    TenantScopedAdminMixin,
    TenantScopedInlineMixin,
    is_platform_operator,
    platform_only,
)
from tenants.models import (
    ApiKey,
    AuditEvent,
    Membership,
    ProviderCredential,
    Tenant,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)
from tenants.roles import Action
from tenants.secrets import encryption_problem


def secret_shown_once(
    modeladmin: admin.ModelAdmin, request: HttpRequest, template: str, title: str, **extra: Any
) -> HttpResponse:
    """The page that shows a new secret the only time it exists in clear (never cached)."""
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": title,
        **extra,
    }
    response = TemplateResponse(request, template, context)
    response["Cache-Control"] = "no-store"
    return response


class MembershipInline(TenantScopedInlineMixin, admin.TabularInline):
    model = Membership
    view_action = Action.MANAGE
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


class ApiKeyInline(TenantScopedInlineMixin, admin.TabularInline):
    model = ApiKey
    view_action = Action.MANAGE
    extra = 0
    fields = ["name", "prefix", "role", "created_at", "last_used_at", "expires_at", "revoked_at"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # keys are created on the API key page, which shows the secret once


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    """Members see their tenants; creating, editing (quotas, limits) and deleting tenants
    is for platform operators (superusers)."""

    tenant_path = ""
    tenant_actions = {"view": Action.READ, "add": None, "change": None, "delete": None}
    list_display = [
        "slug",
        "name",
        "isolation_level",
        "is_active",
        "member_count",
        "agent_count",
        "open_session_count",
        "max_concurrent_sessions",
        "max_sessions_per_month",
    ]
    list_filter = ["is_active", "isolation_level"]
    search_fields = ["slug", "name"]
    ordering = ["slug"]
    inlines = [MembershipInline, ApiKeyInline]
    fieldsets = [
        (None, {"fields": ["slug", "name", "isolation_level", "is_active", "time_zone"]}),
        (
            "Quotas",
            {
                "fields": [
                    "max_concurrent_sessions",
                    "max_sessions_per_month",
                    "max_sessions_per_user_per_month",
                ]
            },
        ),
        ("Rate limits", {"fields": ["api_requests_per_minute"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                _members=Count("memberships", distinct=True),
                _agents=Count("agents", distinct=True),
                _open_sessions=Count(
                    "sessions",
                    filter=Q(sessions__status__in=["pending", "provisioned", "active"]),
                    distinct=True,
                ),
            )
        )

    @admin.display(description="Members", ordering="_members")
    def member_count(self, obj: Tenant) -> int:
        return obj._members

    @admin.display(description="Agents", ordering="_agents")
    def agent_count(self, obj: Tenant) -> int:
        return obj._agents

    @admin.display(description="Open sessions", ordering="_open_sessions")
    def open_session_count(self, obj: Tenant) -> int:
        return obj._open_sessions

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        services.audit_record(
            tenant=obj,
            action="tenant.updated" if change else "tenant.created",
            target=obj.slug,
            actor=request.user,
            details={"changed": form.changed_data},
        )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not Membership:
            super().save_formset(request, form, formset, change)
            return
        memberships = formset.save(commit=False)
        for membership in formset.deleted_objects:
            services.membership_remove(membership=membership)
        for membership in memberships:
            membership.save()
            services.membership_sync_groups(membership=membership)
            services.audit_record(
                tenant=membership.tenant,
                action="membership.set",
                target=str(membership.user),
                actor=request.user,
                details={"role": membership.role},
            )
        formset.save_m2m()


class ApiKeyCreateForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["tenant", "name", "role", "expires_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_path = "tenant"
    tenant_actions = MANAGE_TENANT_ACTIONS
    list_display = [
        "name",
        "tenant",
        "prefix",
        "role",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["role", "tenant", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "tenant__slug"]
    list_select_related = ["tenant"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_selected"]

    def get_form(self, request: HttpRequest, obj: ApiKey | None = None, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return []
        return [*self.readonly_fields, "tenant", "role"]

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return ["tenant", "name", "role", "expires_at"]
        return [
            "tenant",
            "name",
            "prefix",
            "role",
            "expires_at",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        issued = services.api_key_create(
            tenant=obj.tenant,
            name=obj.name,
            role=obj.role,
            created_by=request.user,
            expires_at=obj.expires_at,
        )
        form.instance = obj = issued.api_key
        request._issued_api_key = issued.raw_key  # shown once by response_add, never stored
        services.audit_record(
            tenant=obj.tenant,
            action="api_key.created",
            target=obj.prefix,
            actor=request.user,
            details={"role": obj.role},
        )

    def response_add(
        self, request: HttpRequest, obj: ApiKey, post_url_continue: Any = None
    ) -> HttpResponse:
        raw_key = getattr(request, "_issued_api_key", None)
        if raw_key is None:
            return super().response_add(request, obj, post_url_continue)
        return secret_shown_once(
            self,
            request,
            "admin/tenants/apikey/created.html",
            "API key created",
            api_key=obj,
            raw_key=raw_key,
        )

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            services.api_key_revoke(api_key=api_key)
            services.audit_record(
                tenant=api_key.tenant,
                action="api_key.revoked",
                target=api_key.prefix,
                actor=request.user,
            )
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)


@admin.register(AuditEvent)
class AuditEventAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_path = "tenant"
    tenant_actions = MANAGE_TENANT_ACTIONS
    list_display = ["created_at", "tenant", "actor_label", "action", "target"]
    list_filter = ["action", "tenant"]
    search_fields = ["actor_label", "action", "target"]
    list_select_related = ["tenant"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "tenant",
        "actor",
        "actor_label",
        "action",
        "target",
        "details",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    """Tenant admins manage their tenant's members. Without the platform-wide user list
    (superusers only), they name a new member by exact username."""

    tenant_path = "tenant"
    tenant_actions = MANAGE_TENANT_ACTIONS
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role", "tenant"]
    search_fields = ["user__username", "user__email", "tenant__slug"]
    autocomplete_fields = ["user"]
    list_select_related = ["user", "tenant"]

    def get_autocomplete_fields(self, request: HttpRequest) -> list[str]:
        return list(self.autocomplete_fields) if is_platform_operator(request) else []

    def get_readonly_fields(self, request: HttpRequest, obj: Membership | None = None) -> list[str]:
        if obj is not None and not is_platform_operator(request):
            return ["user", "tenant"]
        return list(self.readonly_fields)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "user" and not is_platform_operator(request):
            kwargs["to_field_name"] = "username"
            kwargs["widget"] = forms.TextInput()
            kwargs["help_text"] = "The exact username of an existing user."
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        services.membership_sync_groups(membership=obj)

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        services.membership_remove(membership=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset.select_related("user", "tenant"):
            services.membership_remove(membership=membership)  # role groups too


class ProviderCredentialForm(forms.ModelForm):
    """The value is write-only: typed into a password box, stored encrypted, never shown."""

    value = forms.CharField(
        label="API key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted. Leave empty to keep the current key.",
    )

    class Meta:
        model = ProviderCredential
        fields = ["tenant", "provider"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("value") and not self.instance.pk:
            self.add_error("value", "An API key is required.")
        if cleaned.get("value") and (problem := encryption_problem()):
            raise forms.ValidationError(problem)
        return cleaned


@admin.register(ProviderCredential)
class ProviderCredentialAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_path = "tenant"
    tenant_actions = MANAGE_TENANT_ACTIONS
    form = ProviderCredentialForm
    list_display = ["tenant", "provider", "created_at", "updated_at"]
    list_filter = ["provider"]
    search_fields = ["tenant__slug"]
    list_select_related = ["tenant"]
    readonly_fields = ["created_at", "updated_at"]

    def save_model(
        self, request: HttpRequest, obj: ProviderCredential, form: Any, change: bool
    ) -> None:
        value = form.cleaned_data.get("value")
        if value:
            obj.set_value(value)
        super().save_model(request, obj, form, change)


# --- Webhooks ---


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
                actor=request.user,
            )
            form.instance = created.endpoint
            request._webhook_secret = created.secret  # shown once by response_add, never stored
            request._webhook_endpoint = created.endpoint  # ``obj`` is the unsaved form copy
            return
        super().save_model(request, obj, form, change)
        if "is_active" in form.changed_data and obj.is_active:
            webhooks.webhook_endpoint_enable(endpoint=obj, actor=request.user)
        else:
            services.audit_record(
                tenant=obj.tenant,
                action="webhook.updated",
                target=obj.url,
                actor=request.user,
                details={"changed": form.changed_data},
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
            webhooks.webhook_endpoint_enable(endpoint=endpoint, actor=request.user)
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
            if webhooks.webhook_delivery_resend(delivery=delivery, actor=request.user):
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


# --- Platform models (no tenant): superusers only, whatever model permissions staff hold ---

PLATFORM_APPS = ("auth", "django_celery_beat")

for _model in [m for m in admin.site._registry if m._meta.app_label in PLATFORM_APPS]:
    platform_only(admin.site, _model)


from tenants import secrets_admin  # noqa: E402, F401 - registers TenantSecretAdmin
