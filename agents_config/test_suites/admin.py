"""Admin of agent test suites: cases, runs (progress and a pass/fail table), the suite page
with the publish gate, and the agents' "run test suites" action."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from guardian.shortcuts import get_objects_for_user

from agents_config.admin import AgentAdmin, _agent_admin, _report_errors, pretty_json
from agents_config.contracts import ContractError
from agents_config.models import Agent
from agents_config.selectors import agent_versions
from agents_config.services import AgentConflict
from agents_config.test_suites import services
from agents_config.test_suites.models import AgentTestCase, AgentTestRun
from tenants.actors import Actor
from tenants.admin_scoping import (
    CRUD_TENANT_ACTIONS,
    TenantScopedAdminMixin,
    adopt_saved,
    is_platform_operator,
)
from tenants.roles import Action


class SuitePermissions(TenantScopedAdminMixin):
    """Cases and runs are visible and editable exactly as their agent is: writing a case
    is changing its agent (developers may, viewers may not)."""

    tenant_path = "agent__tenant"
    tenant_actions = {**CRUD_TENANT_ACTIONS, "add": Action.UPDATE, "delete": Action.UPDATE}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request).select_related("agent__tenant")
        if is_platform_operator(request):
            return qs
        return qs.filter(agent__in=_agent_admin(self).get_queryset(request))  # type: ignore[arg-type]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) and _agent_admin(
            self  # type: ignore[arg-type]
        ).has_view_permission(request, obj.agent if obj is not None else None)


class AgentTestCaseForm(forms.ModelForm):
    class Meta:
        model = AgentTestCase
        fields = ["agent", "name", "user_details", "overrides", "turns", "tool_mocks"]

    def clean(self) -> dict[str, Any]:
        """The service's own check (``services.test_case_check``), shown per field."""
        cleaned = super().clean()
        fields = ("name", "user_details", "overrides", "turns", "tool_mocks")
        if not all(key in cleaned for key in fields):
            return cleaned  # a field failed its own parsing; its error is shown already
        try:
            services.test_case_check(**{key: cleaned[key] for key in fields})
        except ContractError as exc:
            for path_, msgs in exc.errors.items():
                if path_ in fields and path_ != "turns":
                    self.add_error(path_, " ".join(msgs))
                elif path_.startswith("tool_mocks"):
                    self.add_error("tool_mocks", f"{path_}: {' '.join(msgs)}")
                else:
                    self.add_error("turns", f"{path_}: {' '.join(msgs)}")
        return cleaned


@admin.register(AgentTestCase)
class AgentTestCaseAdmin(SuitePermissions, admin.ModelAdmin):
    form = AgentTestCaseForm
    list_display = ["name", "agent", "turn_count", "from_session", "updated_at"]
    list_filter = ["agent__tenant"]
    search_fields = ["name", "agent__agent_id"]
    readonly_fields = ["baseline_pretty", "source_session", "created_at", "updated_at"]
    actions = ["run_selected"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and _agent_admin(
            self
        ).has_change_permission(request, obj.agent if obj is not None else None)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and _agent_admin(
            self
        ).has_change_permission(request, obj.agent if obj is not None else None)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "agent" and not is_platform_operator(request):
            kwargs["queryset"] = get_objects_for_user(
                request.user, "agents_config.change_agent", klass=Agent, accept_global_perms=False
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: AgentTestCase, form: Any, change: bool) -> None:
        """Through the services (validated, audited); the form checked the same rules."""
        fields = {key: form.cleaned_data[key] for key in ("name", "turns")}
        fields.update(
            user_details=form.cleaned_data["user_details"],
            overrides=form.cleaned_data["overrides"],
            tool_mocks=form.cleaned_data.get("tool_mocks") or {},
            actor=Actor.from_request(request),
        )
        if change:
            services.agent_test_case_update(case=obj, **fields)
            return
        adopt_saved(obj, services.agent_test_case_create(agent=obj.agent, **fields))

    def delete_model(self, request: HttpRequest, obj: AgentTestCase) -> None:
        services.agent_test_case_delete(case=obj, actor=Actor.from_request(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AgentTestCase]) -> None:
        actor = Actor.from_request(request)
        for case in queryset.select_related("agent__tenant"):
            services.agent_test_case_delete(case=case, actor=actor)

    @admin.display(description="Turns")
    def turn_count(self, obj: AgentTestCase) -> int:
        return len(obj.turns or [])

    @admin.display(description="Replay of", ordering="source_session")
    def from_session(self, obj: AgentTestCase) -> str:
        return str(obj.source_session_id)[:8] if obj.source_session_id else ""

    @admin.display(description="Baseline (recorded turns)")
    def baseline_pretty(self, obj: AgentTestCase) -> str:
        return pretty_json(obj.baseline) if obj.baseline else "-"

    @admin.action(description="Run selected test cases (draft)", permissions=["change"])
    def run_selected(self, request: HttpRequest, queryset: QuerySet[AgentTestCase]) -> None:
        for case in queryset:
            if not self.has_change_permission(request, case):
                self.message_user(request, f"{case}: permission denied", messages.ERROR)
                continue
            try:
                run = services.agent_test_run_start(
                    agent=case.agent, case_name=case.name, actor=Actor.from_request(request)
                )
            except (ContractError, AgentConflict) as exc:
                _report_errors(self, request, case.agent, exc)
            else:
                _report_run(self, request, run)


def _report_run(model_admin: admin.ModelAdmin, request: HttpRequest, run: AgentTestRun) -> None:
    url = reverse("admin:agents_config_agenttestrun_change", args=[run.pk])
    model_admin.message_user(
        request, format_html('Started <a href="{}">test run {}</a> ({}).', url, run.pk, run)
    )


STATUS_COLORS = {"passed": "#2e7d32", "failed": "#c62828", "error": "#ef6c00"}


@admin.register(AgentTestRun)
class AgentTestRunAdmin(SuitePermissions, admin.ModelAdmin):
    change_form_template = "admin/agents_config/agenttestrun/change_form.html"
    list_display = [
        "id",
        "agent",
        "target",
        "version_label",
        "status_badge",
        "progress",
        "summary",
        "triggered_by",
        "created_at",
    ]
    list_filter = ["status", "agent__tenant"]
    search_fields = ["agent__agent_id", "case__name"]
    fields = [
        "agent",
        "case",
        "version_label",
        "checksum",
        "status_badge",
        "progress",
        "summary",
        "error",
        "triggered_by",
        "created_at",
        "started_at",
        "finished_at",
        "results_table",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Case")
    def target(self, obj: AgentTestRun) -> str:
        return obj.case.name if obj.case_id and obj.case else "whole suite"

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: AgentTestRun) -> str:
        color = STATUS_COLORS.get(obj.status, "#555")
        return format_html('<b style="color: {}">{}</b>', color, obj.status.upper())

    @admin.display(description="Progress")
    def progress(self, obj: AgentTestRun) -> str:
        return format_html(
            '<progress value="{}" max="{}"></progress> {}/{}',
            obj.progress_done,
            max(obj.progress_total, 1),
            obj.progress_done,
            obj.progress_total,
        )

    @admin.display(description="Result")
    def summary(self, obj: AgentTestRun) -> str:
        s = (obj.results or {}).get("summary")
        if not s:
            return "-"
        return f"{s['passed']} passed, {s['failed']} failed, {s['errors']} error(s)"

    @admin.display(description="Results")
    def results_table(self, obj: AgentTestRun) -> str:
        rows = []
        for case in (obj.results or {}).get("cases", []):
            if case.get("error"):
                rows.append(("error", case["name"], "-", "", case["error"], "", ""))
            for turn in case.get("turns", []):
                checks = "\n".join(
                    f"{'✔' if c['passed'] else '✘'} {c['description']}: {c['detail']}"
                    for c in turn["expectations"]
                ) or "; ".join(turn["errors"])
                tools = "\n".join(
                    f"{call['name']}({json.dumps(call['arguments'], ensure_ascii=False)}) → "
                    f"{call['status']}: {call['result']}"
                    for call in turn.get("tool_calls", [])
                )
                changes = "\n".join(
                    f"{c['field']}: {json.dumps(c['before'], ensure_ascii=False)} → "
                    f"{json.dumps(c['after'], ensure_ascii=False)}"
                    for c in turn["changes"]
                )
                rows.append(
                    (
                        "passed" if turn["passed"] else "failed",
                        case["name"],
                        turn["index"],
                        f"{turn['user']}\n→ {turn['spoken_text']}",
                        checks,
                        tools,
                        changes,
                    )
                )
        if not rows:
            return "-"
        body = format_html_join(
            "",
            '<tr><td style="color: {}"><b>{}</b></td><td>{}</td><td>{}</td>'
            '<td style="white-space: pre-wrap">{}</td><td style="white-space: pre-wrap">{}</td>'
            '<td style="white-space: pre-wrap">{}</td><td style="white-space: pre-wrap">{}</td>'
            "</tr>",
            (
                (
                    STATUS_COLORS.get(status, "#555"),
                    status.upper(),
                    name,
                    index,
                    said,
                    checks,
                    tools,
                    diff,
                )
                for status, name, index, said, checks, tools, diff in rows
            ),
        )
        return format_html(
            '<table class="test-results"><thead><tr><th>Result</th><th>Case</th><th>Turn</th>'
            "<th>Conversation</th><th>Expectations</th><th>Tool calls</th><th>Changed fields</th>"
            "</tr></thead>"
            "<tbody>{}</tbody></table>",
            body,
        )

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path(
                "suite/<int:agent_pk>/",
                view(self.suite_view),
                name="agents_config_agenttestrun_suite",
            ),
            *super().get_urls(),
        ]

    def suite_view(self, request: HttpRequest, agent_pk: int) -> HttpResponse:
        """The agent's suite: cases, recent runs, run on the draft, the publish gate."""
        agent_admin = _agent_admin(self)
        agent = agent_admin._agent_for(request, agent_pk, change=request.method == "POST")
        if request.method == "POST":
            if "require" in request.POST:
                required = request.POST["require"] == "1"
                services.agent_test_gate_set(
                    agent=agent, required=required, actor=Actor.from_request(request)
                )
                state = "now requires" if required else "no longer requires"
                self.message_user(request, f"{agent.agent_id} {state} passing tests to publish.")
            else:
                try:
                    run = services.agent_test_run_start(
                        agent=agent,
                        version=request.POST.get("version") or None,
                        actor=Actor.from_request(request),
                    )
                except (ContractError, AgentConflict) as exc:
                    _report_errors(self, request, agent, exc)
                else:
                    _report_run(self, request, run)
                    return HttpResponseRedirect(
                        reverse("admin:agents_config_agenttestrun_change", args=[run.pk])
                    )
            return HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Test suite of {agent.agent_id}",
            "agent": agent,
            "cases": AgentTestCase.objects.filter(agent=agent).order_by("name"),
            "runs": AgentTestRun.objects.filter(agent=agent).select_related("case")[:20],
            "versions": agent_versions(agent=agent).order_by("-major", "-minor", "-patch")[:20],
            "can_change": agent_admin.has_change_permission(request, agent),
        }
        return TemplateResponse(request, "admin/agents_config/agenttestrun/suite.html", context)


@admin.action(description="Run test suites on the draft", permissions=["change"])
def run_agent_test_suites(
    model_admin: AgentAdmin, request: HttpRequest, queryset: QuerySet[Agent]
) -> None:
    for agent in queryset:
        if not model_admin.has_change_permission(request, agent):
            model_admin.message_user(request, f"{agent}: permission denied", messages.ERROR)
            continue
        try:
            run = services.agent_test_run_start(agent=agent, actor=Actor.from_request(request))
        except (ContractError, AgentConflict) as exc:
            _report_errors(model_admin, request, agent, exc)
        else:
            _report_run(model_admin, request, run)


AgentAdmin.actions = [*AgentAdmin.actions, run_agent_test_suites]
