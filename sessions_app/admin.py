"""Sessions, read-only, with their status history and structured turns."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from sessions_app import charts as charts_svg
from sessions_app import services
from sessions_app.models import OPEN_STATUSES, Session, SessionReport, SessionTransition, Turn
from sessions_app.selectors import agent_daily_metrics, sessions_live
from sessions_app.webhooks import admin as webhooks_admin  # noqa: F401  (registers it)
from tenants.actors import Actor
from tenants.admin import TenantAdmin
from tenants.admin_scoping import (
    TenantScopedAdminMixin,
    TenantScopedInlineMixin,
    is_platform_operator,
    tenant_ids_allowing,
)
from tenants.roles import ORPHAN_SESSIONS_ACTION, Action

TenantAdmin.register_count(
    "open_session_count",
    "Open sessions",
    Count("sessions", filter=Q(sessions__status__in=OPEN_STATUSES), distinct=True),
)


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
        "agent_slug",
        "version_label",
        "user_text",
        "spoken_text",
        "interrupted",
        "structured",
        "validation_errors",
        "llm_ttft_ms",
        "first_spoken_ms",
        "tts_ttfb_ms",
        "e2e_latency_ms",
        "end_of_turn_delay_ms",
        "transcription_delay_ms",
        "spoken_complete_ms",
        "tool_calls",
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
        "handoff_versions",
        "handoffs",
        "analysis_outcome",
        "turns_links",
        "latency_breakdown",
    ]
    readonly_fields = fields

    @admin.display(description="Latency per turn")
    def latency_breakdown(self, obj: Session) -> str:
        turns = list(
            obj.turns.order_by("index").values(
                "index",
                "transcription_delay_ms",
                "end_of_turn_delay_ms",
                "llm_ttft_ms",
                "first_spoken_ms",
                "tts_ttfb_ms",
                "e2e_latency_ms",
            )
        )
        return charts_svg.latency_breakdown(
            turns,
            {
                "transcription_delay_ms": "final transcript",
                "end_of_turn_delay_ms": "end-of-turn decision",
                "llm_ttft_ms": "LLM first token",
                "first_spoken_ms": "first spoken text",
                "tts_ttfb_ms": "TTS first byte",
                "e2e_latency_ms": "first audio (end of speech to first frame)",
            },
        )

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
            | Q(agent__isnull=True, tenant__in=tenant_ids_allowing(request, ORPHAN_SESSIONS_ACTION))
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

    def has_end_permission(self, request: HttpRequest, obj: Session | None = None) -> bool:
        """Ending a session is updating it: developers and admins of its tenant may."""
        if is_platform_operator(request):
            return True
        allowed = tenant_ids_allowing(request, Action.UPDATE)
        return bool(allowed) if obj is None else obj.tenant_id in allowed

    def get_urls(self) -> list:
        return [
            path(
                "live/",
                self.admin_site.admin_view(self.live_view),
                name="sessions_app_session_live",
            ),
            path(
                "charts/<int:agent_pk>/",
                self.admin_site.admin_view(self.charts_view),
                name="sessions_app_session_charts",
            ),
            *super().get_urls(),
        ]

    def charts_view(self, request: HttpRequest, agent_pk: int) -> HttpResponse:
        """An agent's (or one version's) latency, validation errors and sessions over time."""
        from agents_config.models import Agent
        from agents_config.selectors import agent_versions

        agent = self.admin_site._registry[Agent]._agent_for(request, agent_pk, change=False)
        versions = list(agent_versions(agent=agent).order_by("-major", "-minor", "-patch"))
        version = request.GET.get("version") or None
        if version and version not in {v.version for v in versions}:
            version = None
        days = 30 if request.GET.get("days") not in {"7", "90"} else int(request.GET["days"])
        metrics = agent_daily_metrics(agent=agent, version=version, days=days)
        d = metrics["days"]
        by_version = metrics["first_audio_p50_by_version"]
        charts = [
            charts_svg.line_chart(
                "First audio: end of user speech to the first audio frame (ms)",
                d,
                metrics["first_audio_ms"],
                " ms",
            ),
            *(
                [charts_svg.line_chart("First audio p50 per version (ms)", d, by_version, " ms")]
                if by_version
                else []
            ),
            charts_svg.line_chart(
                "Time to first spoken text (ms)", d, metrics["first_spoken_ms"], " ms"
            ),
            charts_svg.line_chart("TTS first byte (ms)", d, metrics["tts_ttfb_ms"], " ms"),
            charts_svg.line_chart(
                "Turns with validation errors (%)",
                d,
                {"error rate": metrics["validation_error_pct"]},
                "%",
            ),
            charts_svg.bar_chart("Sessions per day", d, metrics["sessions"]),
            *(
                [
                    charts_svg.line_chart(
                        "Tool calls that failed (%: error or timeout)",
                        d,
                        {"tool errors": metrics["tool_error_pct"]},
                        "%",
                    ),
                    charts_svg.bar_chart("Tool calls per day", d, metrics["tool_calls"]),
                ]
                if any(metrics["tool_calls"])
                else []
            ),
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Charts of {agent.agent_id}" + (f" {version}" if version else ""),
            "agent": agent,
            "versions": versions,
            "version": version,
            "days": days,
            "charts": charts,
            "turn_count": metrics["turn_count"],
        }
        return TemplateResponse(request, "admin/sessions_app/session/charts.html", context)

    def live_view(self, request: HttpRequest) -> HttpResponse:
        """Open sessions with their age, agent and version; stuck ones highlighted."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            chosen = self.get_queryset(request).filter(pk__in=request.POST.getlist("session"))
            end_sessions(self, request, chosen)
            return HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Live sessions",
            "rows": sessions_live(self.get_queryset(request).select_related("agent")),
            "stuck_after": settings.SESSION_STUCK_AFTER_SECONDS,
            "can_end": self.has_end_permission(request),
        }
        return TemplateResponse(request, "admin/sessions_app/session/live.html", context)


@admin.action(description="Turn into test case (replay against the draft)")
def turn_into_test_case(
    model_admin: SessionAdmin, request: HttpRequest, queryset: QuerySet[Session]
) -> None:
    """Each session's user turns become a test case's script, its structured turns the
    baseline (``agents_config.test_suites.services.session_to_test_case``)."""
    from django.contrib import messages

    from agents_config.models import Agent
    from agents_config.services import AgentConflict
    from agents_config.test_suites.services import session_to_test_case

    agent_admin = model_admin.admin_site._registry[Agent]
    for session in queryset.select_related("agent"):
        if session.agent is None or not agent_admin.has_change_permission(request, session.agent):
            model_admin.message_user(request, f"{session}: permission denied", messages.ERROR)
            continue
        try:
            case = session_to_test_case(session=session, actor=Actor.from_request(request))
        except AgentConflict as exc:
            model_admin.message_user(request, f"{session}: {exc}", messages.ERROR)
            continue
        url = reverse("admin:agents_config_agenttestcase_change", args=[case.pk])
        model_admin.message_user(
            request, format_html('Created test case <a href="{}">{}</a>.', url, case)
        )


@admin.action(description="End selected sessions", permissions=["end"])
def end_sessions(
    model_admin: SessionAdmin, request: HttpRequest, queryset: QuerySet[Session]
) -> None:
    """The API's end (``sessions_app.services.session_end``): frees the slot, deletes the room."""
    from django.contrib import messages

    ended = skipped = 0
    for session in queryset.select_related("tenant"):
        if not model_admin.has_end_permission(request, session):
            model_admin.message_user(request, f"{session.pk}: permission denied", messages.ERROR)
            continue
        if services.session_end(
            session=session, reason=f"ended in the dashboard by {request.user}"
        ):
            ended += 1
        else:
            skipped += 1
    model_admin.message_user(
        request, f"Ended {ended} session(s)." + (f" {skipped} already closed." if skipped else "")
    )


SessionAdmin.actions = [*(SessionAdmin.actions or []), turn_into_test_case, end_sessions]


# Registered by import (each module is an admin of its own feature):
from sessions_app import admin_billing, admin_experiments  # noqa: E402, F401
from sessions_app.telephony import admin as telephony_admin  # noqa: E402, F401  (registers it)
