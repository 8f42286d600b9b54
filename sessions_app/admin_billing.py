"""Admin for prices and budgets, with this month's spend (formulas in ``sessions_app.billing``).

Platform prices (no tenant) are for platform operators only; a tenant's own price rows and
budgets are managed by those who run the tenant. Every write goes through the billing
services (``price_save``, ``budget_save``, ... in ``sessions_app.billing``), which audit it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from sessions_app.billing import (
    budget_delete,
    budget_save,
    price_delete,
    price_save,
    tenant_spend,
)
from sessions_app.models import Budget, BudgetAlert, ModelPrice
from tenants.actors import Actor
from tenants.admin_scoping import MANAGE_TENANT_ACTIONS, TenantScopedAdminMixin


@admin.register(ModelPrice)
class ModelPriceAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_path = "tenant"
    tenant_actions = MANAGE_TENANT_ACTIONS
    list_display = ["provider", "model", "metric", "usd_per_million", "effective_from", "tenant"]
    list_filter = ["provider", "metric", "tenant"]
    search_fields = ["provider", "model"]
    ordering = ["provider", "model", "metric", "-effective_from"]

    def save_model(self, request: HttpRequest, obj: ModelPrice, form: Any, change: bool) -> None:
        price_save(price=obj, actor=Actor.from_request(request))

    def delete_model(self, request: HttpRequest, obj: ModelPrice) -> None:
        price_delete(price=obj, actor=Actor.from_request(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ModelPrice]) -> None:
        for price in queryset:
            price_delete(price=price, actor=Actor.from_request(request))


@admin.register(Budget)
class BudgetAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_path = "tenant"
    tenant_actions = MANAGE_TENANT_ACTIONS
    list_display = [
        "tenant",
        "agent",
        "monthly_limit_usd",
        "spent_this_month",
        "threshold_percent",
        "session_reserve_usd",
    ]
    list_select_related = ["tenant", "agent"]
    fields = [
        "tenant",
        "agent",
        "monthly_limit_usd",
        "threshold_percent",
        "session_reserve_usd",
        "closing_line",
        "spent_this_month",
    ]
    readonly_fields = ["spent_this_month"]

    def save_model(self, request: HttpRequest, obj: Budget, form: Any, change: bool) -> None:
        budget_save(budget=obj, actor=Actor.from_request(request))

    def delete_model(self, request: HttpRequest, obj: Budget) -> None:
        budget_delete(budget=obj, actor=Actor.from_request(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Budget]) -> None:
        for budget in queryset.select_related("tenant", "agent"):
            budget_delete(budget=budget, actor=Actor.from_request(request))

    @admin.display(description="Spent this month (USD)")
    def spent_this_month(self, obj: Budget) -> str:
        if obj.pk is None:
            return "-"
        spend = tenant_spend(tenant=obj.tenant)
        slug = obj.agent.agent_id if obj.agent_id else None
        for budget in spend["budgets"]:
            if budget["agent_id"] == slug:
                return f"{budget['spent_usd']} ({spend['period']})"
        return spend["spent_usd"]


@admin.register(BudgetAlert)
class BudgetAlertAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_path = "budget__tenant"
    tenant_actions = {
        "view": MANAGE_TENANT_ACTIONS["view"],
        "add": None,
        "change": None,
        "delete": None,
    }
    list_display = ["budget", "period_start", "spent_usd", "created_at"]
    readonly_fields = ["budget", "period_start", "spent_usd", "created_at"]
