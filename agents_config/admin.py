"""Agent dashboard: drafts edited as validated forms, versions, publish/rollback/duplicate.

The admin holds no rules: forms validate through the contracts and actions call services.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from guardian.admin import GuardedModelAdmin
from guardian.shortcuts import get_objects_for_user

from agents_config import services
from agents_config.contracts import ContractError
from agents_config.diff import document_diff
from agents_config.forms import (
    FORM_SECTIONS,
    AgentAdminForm,
    DuplicateForm,
    FromTemplateForm,
    ImportAgentForm,
    PublishForm,
    RollbackForm,
    SchemaFieldInlineForm,
    SchemaFieldInlineFormSet,
)
from agents_config.models import Agent, AgentVersion, SchemaField
from agents_config.selectors import (
    DraftState,
    agent_draft_document,
    agent_draft_state,
    agent_publish_preview,
    agent_versions,
    version_export_document,
    version_previous,
)
from tenants.actors import Actor
from tenants.admin import TenantAdmin
from tenants.admin_scoping import (
    TenantScopedAdminMixin,
    TenantScopedInlineMixin,
    is_platform_operator,
    tenant_ids_allowing,
    tenant_roles_for,
)
from tenants.models import Tenant
from tenants.roles import Action, Role


def pretty_json(value: Any) -> str:
    return format_html(
        '<pre style="white-space: pre-wrap; max-width: 90em">{}</pre>',
        json.dumps(value, indent=2, ensure_ascii=False),
    )


def json_download(document: Any, filename: str) -> HttpResponse:
    response = JsonResponse(document, safe=False, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def report_warnings(
    modeladmin: admin.ModelAdmin, request: HttpRequest, agent_id: str, warnings: Any
) -> None:
    """Show the contracts' warnings (inferred settings, options without effect)."""
    for warning in warnings:
        modeladmin.message_user(request, f"{agent_id}: {warning}", messages.WARNING)


def diff_table(changes: list, caption: str) -> str:
    """The changes between two documents as a table (path, change, before, after)."""
    rows = format_html_join(
        "",
        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                c.path,
                c.change,
                json.dumps(c.old, ensure_ascii=False),
                json.dumps(c.new, ensure_ascii=False),
            )
            for c in changes
        ),
    )
    return format_html(
        '<p>{}</p><table class="config-diff"><thead><tr><th>Path</th><th>Change</th>'
        "<th>Before</th><th>After</th></tr></thead><tbody>{}</tbody></table>",
        caption,
        rows,
    )


DRAFT_BADGE_COLORS = {
    DraftState.IN_SYNC: "#2e7d32",
    DraftState.UNPUBLISHED: "#ef6c00",
    DraftState.NEVER_PUBLISHED: "#546e7a",
    DraftState.INVALID: "#c62828",
}


def draft_badge(state: str) -> str:
    return format_html(
        '<span class="draft-badge" data-state="{}" style="background: {}; color: #fff; '
        'padding: 1px 6px; border-radius: 8px; font-size: 11px; display: inline-block">{}</span>',
        state,
        DRAFT_BADGE_COLORS.get(state, "#555"),
        state,
    )


def _report_errors(
    modeladmin: admin.ModelAdmin, request: HttpRequest, agent: Agent, exc: Exception
) -> None:
    if isinstance(exc, ContractError):
        detail = "; ".join(f"{p or 'document'}: {' '.join(m)}" for p, m in exc.errors.items())
    else:
        detail = str(exc)
    modeladmin.message_user(request, f"{agent.agent_id}: {detail}", messages.ERROR)


class SchemaFieldInline(TenantScopedInlineMixin, admin.TabularInline):
    model = SchemaField
    form = SchemaFieldInlineForm
    formset = SchemaFieldInlineFormSet
    extra = 0
    ordering = ["position"]
    template = "admin/agents_config/agent/schema_fields_inline.html"

    class Media:
        css = {"all": ["agents_config/schema_fields.css"]}
        js = ["agents_config/schema_fields.js"]


def admin_role(request: HttpRequest, tenant: Tenant) -> str | None:
    """The staff user's role in ``tenant`` for the services' role checks (``None`` for a
    superuser, the operator; a staff user without a membership counts as a viewer)."""
    if request.user.is_superuser:
        return None
    return tenant_roles_for(request).get(tenant.pk) or Role.VIEWER


TenantAdmin.register_count("agent_count", "Agents", Count("agents", distinct=True))


@admin.register(Agent)
class AgentAdmin(TenantScopedAdminMixin, GuardedModelAdmin):
    """Tenant members work on their tenants' agents as the role table and each agent's
    guardian object permissions allow (``view_agent``, ``change_agent``, ``delete_agent``)."""

    tenant_path = "tenant"
    form = AgentAdminForm
    inlines = [SchemaFieldInline]
    change_form_template = "admin/agents_config/agent/change_form.html"
    list_display = [
        "agent_id",
        "name",
        "tenant",
        "agent_type",
        "enabled",
        "live_version",
        "draft_status",
        "version_count",
        "session_count",
        "updated_at",
    ]
    list_filter = ["enabled", "agent_type", "tenant", "reload_policy"]
    search_fields = ["agent_id", "name", "tenant__slug"]
    ordering = ["tenant__slug", "agent_id"]
    list_select_related = ["tenant", "published_version"]
    readonly_fields = [
        "published_version",
        "draft_status",
        "revision",
        "created_at",
        "updated_at",
        "turn_latency",
    ]
    actions = ["publish_selected", "enable_selected", "disable_selected", "export_selected"]

    def get_fieldsets(self, request: HttpRequest, obj: Agent | None = None) -> list:
        fieldsets: list = [
            (
                None,
                {
                    "fields": [
                        "tenant",
                        "agent_id",
                        "name",
                        "agent_type",
                        "enabled",
                        "reload_policy",
                    ]
                },
            ),
            (
                "Schema",
                {
                    "fields": [
                        "schema_id",
                        "schema_version",
                        "custom_validators",
                        "spoken_key_alias",
                    ],
                    "description": "Fields are edited in the table below.",
                },
            ),
        ]
        for section in FORM_SECTIONS:
            title = (
                section.removesuffix("_config").upper()
                if section in ("llm_config", "stt_config", "tts_config")
                else section.removesuffix("_config").capitalize()
            )
            fieldsets.append(
                (
                    title,
                    {
                        "fields": AgentAdminForm.section_field_names(section),
                        "classes": ["collapse"]
                        if section in ("stt_config", "pipeline_config")
                        else [],
                    },
                )
            )
        fieldsets.append(("Status", {"fields": self.readonly_fields}))
        return fieldsets

    def get_form(self, request: HttpRequest, obj: Agent | None = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        # A per-request class (modelform_factory), so the role lookup is this user's.
        form.outbound_role = staticmethod(lambda tenant: admin_role(request, tenant))
        return form

    def get_readonly_fields(self, request: HttpRequest, obj: Agent | None = None) -> list[str]:
        fields = list(self.readonly_fields)
        if obj is not None:
            fields += ["tenant", "agent_id"]  # identity is fixed once created
        return fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Agent]:
        qs = (
            super()
            .get_queryset(request)
            .annotate(
                _versions=Count("versions", distinct=True),
                _sessions=Count("sessions", distinct=True),
            )
        )
        if is_platform_operator(request):
            return qs
        return get_objects_for_user(
            request.user, "agents_config.view_agent", klass=qs, accept_global_perms=False
        )

    # The tenant's role (the mixin) and the agent's guardian object permission, both.
    def has_view_permission(self, request: HttpRequest, obj: Agent | None = None) -> bool:
        return super().has_view_permission(request, obj) and (
            obj is None or request.user.has_perm("agents_config.view_agent", obj)
        )

    def has_change_permission(self, request: HttpRequest, obj: Agent | None = None) -> bool:
        return super().has_change_permission(request, obj) and (
            obj is None or request.user.has_perm("agents_config.change_agent", obj)
        )

    def has_delete_permission(self, request: HttpRequest, obj: Agent | None = None) -> bool:
        return super().has_delete_permission(request, obj) and (
            obj is None or request.user.has_perm("agents_config.delete_agent", obj)
        )

    # Guardian's object-permission pages: granting permissions is running the tenant.
    def _require_tenant_manager(self, request: HttpRequest, object_pk: Any) -> None:
        if is_platform_operator(request):
            return
        agent = get_object_or_404(self.get_queryset(request), pk=object_pk)
        if agent.tenant_id not in tenant_ids_allowing(request, Action.MANAGE):
            raise PermissionDenied

    def obj_perms_manage_view(self, request: HttpRequest, object_pk: Any) -> HttpResponse:
        self._require_tenant_manager(request, object_pk)
        return super().obj_perms_manage_view(request, object_pk)

    def obj_perms_manage_user_view(
        self, request: HttpRequest, object_pk: Any, user_id: Any
    ) -> HttpResponse:
        self._require_tenant_manager(request, object_pk)
        return super().obj_perms_manage_user_view(request, object_pk, user_id)

    def obj_perms_manage_group_view(
        self, request: HttpRequest, object_pk: Any, group_id: Any
    ) -> HttpResponse:
        self._require_tenant_manager(request, object_pk)
        return super().obj_perms_manage_group_view(request, object_pk, group_id)

    @admin.display(description="Live version", ordering="published_version__major")
    def live_version(self, obj: Agent) -> str:
        return obj.published_version.version if obj.published_version else "—"

    @admin.display(description="Draft")
    def draft_status(self, obj: Agent) -> str:
        return draft_badge(agent_draft_state(obj)) if obj.pk else "-"

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        # The draft badge reads every listed agent's schema fields: one query for the page.
        changelist.result_list = changelist.result_list.prefetch_related("schema_fields")
        return changelist

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        agent = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if agent is not None:
            extra_context["draft_badge"] = draft_badge(agent_draft_state(agent))
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Versions", ordering="_versions")
    def version_count(self, obj: Agent) -> int:
        return obj._versions

    @admin.display(description="Sessions", ordering="_sessions")
    def session_count(self, obj: Agent) -> int:
        return obj._sessions

    @admin.display(description="Turn latency (recent turns)")
    def turn_latency(self, obj: Agent) -> str:
        from agents_config.hooks import turn_latency

        if obj.pk is None:
            return "-"
        stats = turn_latency(agent=obj)

        def line(label: str, values: dict) -> str:
            if not values["count"]:
                return f"{label}: no data"
            return (
                f"{label}: p50 {values['p50']:.0f} ms, p90 {values['p90']:.0f} ms "
                f"({values['count']} turns)"
            )

        return "; ".join(
            [
                line("first spoken text", stats["first_spoken_ms"]),
                line("TTS first byte", stats["tts_ttfb_ms"]),
            ]
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        services.agent_touch_draft(
            agent=form.instance,
            actor=Actor.from_request(request),
            created=not change,
            was_enabled=getattr(request, "_agent_was_enabled", None),
        )
        for formset in formsets:
            report_warnings(
                self, request, form.instance.agent_id, getattr(formset, "contract_warnings", [])
            )

    def save_model(self, request: HttpRequest, obj: Agent, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = Actor.from_request(request).audit_user
        else:
            # The admin's change view is one transaction: the row stays locked until the
            # inlines are saved and ``agent_touch_draft`` bumped the revision.
            request._agent_was_enabled = services.agent_lock_for_edit(agent=obj)
        super().save_model(request, obj, form, change)

    # --- actions (bulk) ---
    @admin.action(description="Publish selected agents (minor version)", permissions=["change"])
    def publish_selected(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        for agent in queryset:
            if not self.has_change_permission(request, agent):
                self.message_user(request, f"{agent}: permission denied", messages.ERROR)
                continue
            try:
                version = services.agent_publish(agent=agent, actor=Actor.from_request(request))
            except (ContractError, services.AgentConflict) as exc:
                _report_errors(self, request, agent, exc)
            else:
                self.message_user(request, f"Published {agent.agent_id} {version.version}.")

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[Agent], enabled: bool) -> None:
        changed = 0
        for agent in queryset:
            if self.has_change_permission(request, agent):
                services.agent_set_enabled(
                    agent=agent, enabled=enabled, actor=Actor.from_request(request)
                )
                changed += 1
        self.message_user(request, f"{'Enabled' if enabled else 'Disabled'} {changed} agent(s).")

    @admin.action(description="Enable selected agents", permissions=["change"])
    def enable_selected(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected agents", permissions=["change"])
    def disable_selected(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        self._set_enabled(request, queryset, False)

    @admin.action(description="Export selected agents as JSON")
    def export_selected(self, request: HttpRequest, queryset: QuerySet[Agent]) -> HttpResponse:
        documents = [agent_draft_document(agent) for agent in queryset]
        if len(documents) == 1:
            return json_download(documents[0], f"{documents[0]['agent_id']}.json")
        return json_download(documents, "agents.json")

    # --- per-agent pages ---
    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="agents_config_agent_import"),
            path(
                "from-template/",
                view(self.from_template_view),
                name="agents_config_agent_from_template",
            ),
            path("<int:pk>/publish/", view(self.publish_view), name="agents_config_agent_publish"),
            path(
                "<int:pk>/rollback/", view(self.rollback_view), name="agents_config_agent_rollback"
            ),
            path(
                "<int:pk>/duplicate/",
                view(self.duplicate_view),
                name="agents_config_agent_duplicate",
            ),
            path("<int:pk>/export/", view(self.export_view), name="agents_config_agent_export"),
            *super().get_urls(),
        ]

    def _agent_for(self, request: HttpRequest, pk: int, *, change: bool = True) -> Agent:
        agent = get_object_or_404(self.get_queryset(request), pk=pk)
        allowed = (
            self.has_change_permission(request, agent)
            if change
            else self.has_view_permission(request, agent)
        )
        if not allowed:
            raise PermissionDenied
        return agent

    def _page(
        self,
        request: HttpRequest,
        agent: Agent | None,
        title: str,
        form: Any,
        template: str = "admin/agents_config/agent/action_form.html",
        **extra: Any,
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "original": agent,
            **extra,
        }
        return TemplateResponse(request, template, context)

    def _change_url(self, agent: Agent) -> str:
        return reverse("admin:agents_config_agent_change", args=[agent.pk])

    def publish_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        agent = self._agent_for(request, pk)
        form = PublishForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                version = services.agent_publish(
                    agent=agent,
                    actor=Actor.from_request(request),
                    bump_kind=form.cleaned_data["bump"],
                    version=form.cleaned_data["version"] or None,
                    note=form.cleaned_data["note"],
                )
            except (ContractError, services.AgentConflict) as exc:
                _report_errors(self, request, agent, exc)
            else:
                self.message_user(request, f"Published {agent.agent_id} {version.version}.")
                return HttpResponseRedirect(self._change_url(agent))
        preview = agent_publish_preview(agent)
        return self._page(
            request,
            agent,
            f"Publish {agent.agent_id}",
            form,
            template="admin/agents_config/agent/publish.html",
            preview=preview,
            diff=diff_table(
                preview["changes"],
                f"Changes from the live version {preview['live'].version} to the draft:",
            )
            if preview["live"] is not None and preview["changes"]
            else "",
        )

    def rollback_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        agent = self._agent_for(request, pk)
        older = agent_versions(agent=agent).exclude(pk=agent.published_version_id)
        form = RollbackForm(request.POST or None, versions=older)
        if request.method == "POST" and form.is_valid():
            try:
                version = services.agent_rollback(
                    agent=agent,
                    to_version=form.cleaned_data["version"],
                    actor=Actor.from_request(request),
                    note=form.cleaned_data["note"],
                    role=admin_role(request, agent.tenant),
                )
            except (ContractError, services.AgentConflict, services.OutboundURLForbidden) as exc:
                _report_errors(self, request, agent, exc)
            else:
                self.message_user(
                    request,
                    f"Rolled back {agent.agent_id} to {form.cleaned_data['version'].version} "
                    f"as version {version.version}.",
                )
                return HttpResponseRedirect(self._change_url(agent))
        return self._page(request, agent, f"Roll back {agent.agent_id}", form)

    def duplicate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        agent = self._agent_for(request, pk, change=False)
        if not is_platform_operator(request) and agent.tenant_id not in self.tenant_ids_for(
            request, "add"
        ):
            raise PermissionDenied  # a copy is a new agent in the same tenant
        form = DuplicateForm(
            request.POST or None, initial={"new_agent_id": f"{agent.agent_id}-copy"}
        )
        if request.method == "POST" and form.is_valid():
            try:
                copy = services.agent_duplicate(
                    agent=agent,
                    new_agent_id=form.cleaned_data["new_agent_id"],
                    name=form.cleaned_data["name"] or None,
                    actor=Actor.from_request(request),
                    role=admin_role(request, agent.tenant),
                )
            except (ContractError, services.AgentConflict, services.OutboundURLForbidden) as exc:
                _report_errors(self, request, agent, exc)
            else:
                self.message_user(request, f"Created {copy.agent_id} from {agent.agent_id}.")
                return HttpResponseRedirect(self._change_url(copy))
        return self._page(request, agent, f"Duplicate {agent.agent_id}", form)

    def export_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        agent = self._agent_for(request, pk, change=False)
        return json_download(agent_draft_document(agent), f"{agent.agent_id}.json")

    def _creatable_tenants(self, request: HttpRequest) -> QuerySet[Tenant]:
        """Tenants the user may create agents in (add permission, or any as superuser)."""
        return (
            Tenant.objects.all()
            if is_platform_operator(request)
            else Tenant.objects.filter(pk__in=self.tenant_ids_for(request, "add"))
        )

    def from_template_view(self, request: HttpRequest) -> HttpResponse:
        from agents_config.agent_templates import agent_templates

        if not self.has_add_permission(request):
            raise PermissionDenied

        templates = agent_templates()
        form = FromTemplateForm(
            request.POST or None,
            tenants=self._creatable_tenants(request),
            templates=templates.values(),
            initial={"template": request.GET.get("template", "generic")},
        )
        if request.method == "POST" and form.is_valid():
            try:
                agent = services.agent_create_from_template(
                    tenant=form.cleaned_data["tenant"],
                    template_id=form.cleaned_data["template"],
                    agent_id=form.cleaned_data["agent_id"],
                    name=form.cleaned_data["name"] or None,
                    actor=Actor.from_request(request),
                )
            except ContractError as exc:
                for path_, msgs in exc.errors.items():
                    form.add_error(None, f"{path_ or 'document'}: {' '.join(msgs)}")
            except services.AgentConflict as exc:
                form.add_error("agent_id", str(exc))
            else:
                self.message_user(
                    request,
                    f"Created {agent.agent_id} from the {form.cleaned_data['template']} "
                    "template (a draft: review it, then publish).",
                )
                report_warnings(self, request, agent.agent_id, agent.config_warnings)
                return HttpResponseRedirect(self._change_url(agent))
        return self._page(request, None, "New agent from template", form)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        tenants = self._creatable_tenants(request)
        form = ImportAgentForm(request.POST or None, request.FILES or None, tenants=tenants)
        if request.method == "POST" and form.is_valid():
            try:
                agent = services.agent_import(
                    tenant=form.cleaned_data["tenant"],
                    data=form.cleaned_data["data"],
                    actor=Actor.from_request(request),
                    replace=form.cleaned_data["replace"],
                    publish=form.cleaned_data["publish"],
                    role=admin_role(request, form.cleaned_data["tenant"]),
                )
            except (ContractError, services.OutboundURLForbidden) as exc:
                errors = exc.errors if isinstance(exc, ContractError) else exc.fields
                for path_, msgs in errors.items():
                    form.add_error(None, f"{path_ or 'document'}: {' '.join(msgs)}")
            except services.AgentConflict as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"Imported {agent.agent_id}.")
                report_warnings(self, request, agent.agent_id, agent.config_warnings)
                return HttpResponseRedirect(self._change_url(agent))
        return self._page(request, None, "Import agent", form)


@admin.register(AgentVersion)
class AgentVersionAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_path = "agent__tenant"
    list_display = [
        "agent",
        "version",
        "live",
        "source",
        "note_excerpt",
        "created_by",
        "created_at",
        "short_checksum",
    ]
    list_filter = ["source", "agent__tenant"]
    search_fields = ["agent__agent_id", "version", "note"]
    list_select_related = ["agent", "agent__tenant", "created_by"]
    ordering = ["agent__agent_id", "-major", "-minor", "-patch"]
    fields = [
        "agent",
        "version",
        "source",
        "rolled_back_from",
        "note",
        "created_by",
        "created_at",
        "checksum",
        "diff_to_previous",
        "document_pretty",
    ]
    readonly_fields = fields
    actions = ["export_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AgentVersion]:
        qs = super().get_queryset(request)
        if is_platform_operator(request):
            return qs
        return qs.filter(agent__in=_agent_admin(self).get_queryset(request))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) and _agent_admin(self).has_view_permission(
            request, obj.agent if obj is not None else None
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Live", boolean=True)
    def live(self, obj: AgentVersion) -> bool:
        return obj.agent.published_version_id == obj.pk

    @admin.display(description="Note", ordering="note")
    def note_excerpt(self, obj: AgentVersion) -> str:
        return obj.note if len(obj.note) <= 80 else f"{obj.note[:79]}…"

    @admin.display(description="Checksum")
    def short_checksum(self, obj: AgentVersion) -> str:
        return obj.checksum[:12]

    @admin.display(description="Document")
    def document_pretty(self, obj: AgentVersion) -> str:
        return pretty_json(obj.document)

    @admin.display(description="Changes from the previous version")
    def diff_to_previous(self, obj: AgentVersion) -> str:
        previous = version_previous(obj)
        if previous is None:
            return "First version."
        changes = document_diff(previous.document, obj.document)
        if not changes:
            return f"No changes from {previous.version}."
        return diff_table(changes, f"Compared with {previous.version}:")

    @admin.action(description="Export selected versions as JSON")
    def export_selected(
        self, request: HttpRequest, queryset: QuerySet[AgentVersion]
    ) -> HttpResponse:
        documents = [version_export_document(v) for v in queryset.select_related("agent__tenant")]
        if len(documents) == 1:
            doc = documents[0]
            return json_download(doc, f"{doc['agent_id']}-{doc['version']}.json")
        return json_download(documents, "agent-versions.json")


def _agent_admin(model_admin: admin.ModelAdmin) -> AgentAdmin:
    return model_admin.admin_site._registry[Agent]


# The test-suite admin (cases, runs, the suite page) lives in its feature's subpackage.
from agents_config.test_suites import admin as _test_suites_admin  # noqa: E402, F401
