"""Tenant secrets in the admin: tenant admins (``Action.MANAGE``) set and delete them; the
value is write-only (a password box, stored encrypted, never shown); changes are audited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from tenants.actors import Actor
from tenants.admin import WriteOnlyValueForm, write_only_value_field
from tenants.admin_scoping import MANAGE_TENANT_ACTIONS, TenantScopedAdminMixin
from tenants.models import TenantSecret
from tenants.services import (
    tenant_secret_delete,
    tenant_secret_describe,
    tenant_secret_set,
)


class TenantSecretForm(WriteOnlyValueForm):
    value = write_only_value_field(
        label="Value",
        strip=False,
        help_text="Stored encrypted and never shown again. Leave empty to keep the current one.",
    )

    class Meta:
        model = TenantSecret
        fields = ["tenant", "name", "description"]


@admin.register(TenantSecret)
class TenantSecretAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_path = "tenant"
    tenant_actions = MANAGE_TENANT_ACTIONS
    form = TenantSecretForm
    list_display = ["tenant", "name", "description", "updated_at"]
    search_fields = ["tenant__slug", "name"]
    list_select_related = ["tenant"]
    readonly_fields = ["created_at", "updated_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # a secret is renamed by creating another: tools name it
        return [*self.readonly_fields, "tenant", "name"] if obj else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: TenantSecret, form: Any, change: bool) -> None:
        value = form.cleaned_data.get("value")
        if value:
            saved = tenant_secret_set(
                tenant=obj.tenant,
                name=obj.name,
                value=value,
                description=obj.description,
                actor=Actor.from_request(request),
            )
            obj.pk = saved.pk
            obj.encrypted_value = saved.encrypted_value
        else:
            tenant_secret_describe(
                secret=obj, description=obj.description, actor=Actor.from_request(request)
            )

    def delete_model(self, request: HttpRequest, obj: TenantSecret) -> None:
        tenant_secret_delete(secret=obj, actor=Actor.from_request(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[TenantSecret]) -> None:
        for secret in queryset.select_related("tenant"):
            tenant_secret_delete(secret=secret, actor=Actor.from_request(request))
