"""Tenant dashboard: memberships, quotas and rate limits, API keys (shown once), audit log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from tenants import services
from tenants.actors import Actor
from tenants.admin_scoping import (
    MANAGE_TENANT_ACTIONS,
    TenantScopedAdminMixin,
    TenantScopedInlineMixin,
    adopt_saved,
    is_platform_operator,
    platform_only,
)
from tenants.models import (
    ApiKey,
    AuditEvent,
    Membership,
    ProviderCredential,
    Tenant,
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
        # + the counts other apps register (``register_tenant_count``): agents, open sessions
        "max_concurrent_sessions",
        "max_sessions_per_month",
    ]
    count_columns: dict[str, Any] = {"_members": Count("memberships", distinct=True)}
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
        return super().get_queryset(request).annotate(**self.count_columns)

    @admin.display(description="Members", ordering="_members")
    def member_count(self, obj: Tenant) -> int:
        return obj._members

    @classmethod
    def register_count(cls, name: str, description: str, expression: Any) -> None:
        """Add a counted column (``Count(...)`` over a relation to the tenant) from the app
        that owns the counted model and its rules, e.g. the open sessions: the ground app
        never needs to know them."""
        key = f"_{name}"
        cls.count_columns = {**cls.count_columns, key: expression}

        @admin.display(description=description, ordering=key)
        def column(self: TenantAdmin, obj: Tenant) -> int:
            return getattr(obj, key)

        setattr(cls, name, column)
        if name not in cls.list_display:
            position = cls.list_display.index("max_concurrent_sessions")
            cls.list_display = [*cls.list_display[:position], name, *cls.list_display[position:]]

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        actor = Actor.from_request(request)
        if change:
            services.tenant_update(tenant=obj, changed=form.changed_data, actor=actor)
            return
        fixed = ("slug", "name", "isolation_level")
        created = services.tenant_create(
            slug=obj.slug,
            name=obj.name,
            isolation_level=obj.isolation_level,
            actor=actor,
            **{field: getattr(obj, field) for field in form.cleaned_data if field not in fixed},
        )
        adopt_saved(obj, created)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not Membership:
            super().save_formset(request, form, formset, change)
            return
        actor = Actor.from_request(request)
        memberships = formset.save(commit=False)
        for membership in formset.deleted_objects:
            services.membership_remove(membership=membership, actor=actor)
        for membership in memberships:
            services.membership_save(membership=membership, actor=actor)
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
            services.api_key_update(
                api_key=obj, changed=form.changed_data, actor=Actor.from_request(request)
            )
            return
        issued = services.api_key_create(
            tenant=obj.tenant,
            name=obj.name,
            role=obj.role,
            actor=Actor.from_request(request),
            expires_at=obj.expires_at,
        )
        form.instance = obj = issued.api_key
        request._issued_api_key = issued.raw_key  # shown once by response_add, never stored

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
        actor = Actor.from_request(request)
        for api_key in queryset.select_related("tenant"):
            services.api_key_revoke(api_key=api_key, actor=actor)
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
        services.membership_save(membership=obj, actor=Actor.from_request(request))

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        services.membership_remove(membership=obj, actor=Actor.from_request(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        actor = Actor.from_request(request)
        for membership in queryset.select_related("user", "tenant"):
            services.membership_remove(membership=membership, actor=actor)  # role groups too


def write_only_value_field(*, label: str, strip: bool, help_text: str) -> forms.CharField:
    """A secret typed into a password box: never rendered back, stored encrypted."""
    return forms.CharField(
        label=label,
        required=False,
        strip=strip,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=help_text,
    )


class WriteOnlyValueForm(forms.ModelForm):
    """A model form with a write-only ``value``: required on creation, optional on change
    (empty keeps the stored one), refused while encryption is not configured."""

    value_required_message = "A value is required."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("value") and not self.instance.pk:
            self.add_error("value", self.value_required_message)
        if cleaned.get("value") and (problem := encryption_problem()):
            raise forms.ValidationError(problem)
        return cleaned


class ProviderCredentialForm(WriteOnlyValueForm):
    value = write_only_value_field(
        label="API key",
        strip=True,
        help_text="Stored encrypted. Leave empty to keep the current key.",
    )
    value_required_message = "An API key is required."

    class Meta:
        model = ProviderCredential
        fields = ["tenant", "provider"]


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

    def get_readonly_fields(
        self, request: HttpRequest, obj: ProviderCredential | None = None
    ) -> list[str]:
        # A stored key belongs to its tenant and provider: replace its value, or delete it.
        return list(self.readonly_fields) + ([] if obj is None else ["tenant", "provider"])

    def save_model(
        self, request: HttpRequest, obj: ProviderCredential, form: Any, change: bool
    ) -> None:
        value = form.cleaned_data.get("value")
        if not value:
            return  # an edit without a new key keeps the stored one
        stored = services.credential_set(
            tenant=obj.tenant, provider=obj.provider, value=value, actor=Actor.from_request(request)
        )
        adopt_saved(obj, stored)

    def delete_model(self, request: HttpRequest, obj: ProviderCredential) -> None:
        services.credential_delete(credential=obj, actor=Actor.from_request(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ProviderCredential]) -> None:
        actor = Actor.from_request(request)
        for credential in queryset.select_related("tenant"):
            services.credential_delete(credential=credential, actor=actor)


# --- Platform models (no tenant): superusers only, whatever model permissions staff hold ---

PLATFORM_APPS = ("auth", "django_celery_beat")

for _model in [m for m in admin.site._registry if m._meta.app_label in PLATFORM_APPS]:
    platform_only(admin.site, _model)


from tenants import secrets_admin  # noqa: E402, F401 - registers TenantSecretAdmin
