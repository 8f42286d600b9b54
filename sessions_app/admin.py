"""Sessions, read-only, with their status history and structured turns."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from sessions_app.models import Session, SessionReport, SessionTransition, Turn
from tenants.admin_scoping import (
    TenantScopedAdminMixin,
    TenantScopedInlineMixin,
    is_platform_operator,
    tenant_ids_allowing,
)
from tenants.roles import Action


class ReadOnlyInline(TenantScopedInlineMixin, admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TransitionInline(ReadOnlyInline):
    model = SessionTransition
    fields = ["created_at", "from_status", "to_status", "reason"]
    readonly_fields = fields


class TurnInline(ReadOnlyInline):
    model = Turn
    fields = [
        "index",
        "version_label",
        "user_text",
        "spoken_text",
        "structured",
        "validation_errors",
        "llm_ttft_ms",
        "first_spoken_ms",
        "tts_ttfb_ms",
    ]
    readonly_fields = fields

    @admin.display(description="Structured output")
    def structured(self, obj: Turn) -> str:
        return format_html(
            "<pre>{}</pre>", json.dumps(obj.structured_output, indent=2, ensure_ascii=False)
        )


@admin.register(Session)
class SessionAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    """As in the API: a member sees the sessions of the agents they may read; sessions whose
    agent was deleted stay visible to those who run the tenant."""

    tenant_path = "tenant"
    list_display = [
        "id",
        "tenant",
        "agent_slug",
        "version_label",
        "user_id",
        "status",
        "turn_count",
        "cost_usd",
        "created_at",
        "ended_at",
    ]
    list_filter = ["status", "tenant", "agent_slug", "created_at"]
    search_fields = ["id", "user_id", "agent_slug", "room_name"]
    date_hierarchy = "created_at"
    list_select_related = ["tenant"]
    inlines = [TransitionInline, TurnInline]
    fields = [
        "id",
        "tenant",
        "agent",
        "agent_version",
        "agent_slug",
        "version_label",
        "user_id",
        "user_details",
        "overrides",
        "room_name",
        "status",
        "failure_reason",
        "created_at",
        "expires_at",
        "ended_at",
        "cost_usd",
        "reserved_usd",
        "analysis_outcome",
        "turns_links",
    ]
    readonly_fields = fields

    @admin.display(description="Analysis")
    def analysis_outcome(self, obj: Session) -> str:
        """The post-session analysis: its status, then the validated result or the errors."""
        report = SessionReport.objects.filter(session=obj).first() if obj.pk else None
        if report is None or not report.analysis_status:
            return "-"
        detail = report.analysis if report.analysis is not None else report.analysis_errors
        return f"{report.analysis_status}: {json.dumps(detail, ensure_ascii=False)[:2000]}"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Session]:
        qs = super().get_queryset(request).annotate(_turns=Count("turns"))
        if is_platform_operator(request):
            return qs
        from agents_config.models import Agent

        agents = self.admin_site._registry[Agent].get_queryset(request)
        return qs.filter(
            Q(agent__in=agents.values("pk"))
            | Q(agent__isnull=True, tenant__in=tenant_ids_allowing(request, Action.MANAGE))
        )

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_view_permission(request, obj)
        if not allowed or obj is None or is_platform_operator(request):
            return allowed
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    @admin.display(description="Turns", ordering="_turns")
    def turn_count(self, obj: Session) -> int:
        return obj._turns

    @admin.display(description="Turns")
    def turns_links(self, obj: Session) -> str:
        return format_html(
            '<a href="#turns-group">Structured turns below</a> · '
            '<a href="{}">Open the turns in the playground</a>',
            reverse("playground:session", args=[obj.pk]),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.action(description="Turn into test case (replay against the draft)")
def turn_into_test_case(
    model_admin: SessionAdmin, request: HttpRequest, queryset: QuerySet[Session]
) -> None:
    """Each session's user turns become a test case's script, its structured turns the
    baseline (``agents_config.services.session_to_test_case``)."""
    from django.contrib import messages

    from agents_config.models import Agent
    from agents_config.services import AgentConflict, session_to_test_case

    agent_admin = model_admin.admin_site._registry[Agent]
    for session in queryset.select_related("agent"):
        if session.agent is None or not agent_admin.has_change_permission(request, session.agent):
            model_admin.message_user(request, f"{session}: permission denied", messages.ERROR)
            continue
        try:
            case = session_to_test_case(session=session, actor=request.user)
        except AgentConflict as exc:
            model_admin.message_user(request, f"{session}: {exc}", messages.ERROR)
            continue
        url = reverse("admin:agents_config_agenttestcase_change", args=[case.pk])
        model_admin.message_user(
            request, format_html('Created test case <a href="{}">{}</a>.', url, case)
        )


SessionAdmin.actions = [*(SessionAdmin.actions or []), turn_into_test_case]


from sessions_app import admin_billing  # noqa: E402, F401  (registers prices and budgets)
