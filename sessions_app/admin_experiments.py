"""Version experiments in the admin: each agent's split, a per-version comparison (latency,
validation errors, analysis outcomes, cost) and "promote" (live at 100 %).

Every write goes through ``agents_config.experiments`` (``experiment_set``,
``experiment_promote``), which validate and audit, as the API does. The page lives here,
not in ``agents_config``, because the comparison reads sessions.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from agents_config.contracts import ContractError
from agents_config.experiments import experiment_promote, experiment_set, experiment_weights
from agents_config.models import Agent, VersionExperiment
from agents_config.selectors import agent_versions
from sessions_app.experiments import version_comparison
from tenants.actors import Actor
from tenants.admin_scoping import TenantScopedAdminMixin


def _weights_from_post(request: HttpRequest, labels: list[str]) -> dict[str, Any]:
    """``weight-<label>`` inputs; blank or 0 leaves the version out; text stays text so the
    service reports it on its field."""
    weights: dict[str, Any] = {}
    for label in labels:
        raw = request.POST.get(f"weight-{label}", "").strip()
        if raw in ("", "0"):
            continue
        weights[label] = int(raw) if raw.isdigit() else raw
    return weights


@admin.register(VersionExperiment)
class VersionExperimentAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_path = "agent__tenant"
    list_display = ["agent", "split", "updated_at", "compare"]
    list_select_related = ["agent"]
    actions = ["promote_heaviest"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # started from an agent's "Experiment…" page, through the service

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the split is changed on the experiment page (validated, audited)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # an experiment ends by promoting a version

    @admin.display(description="Split")
    def split(self, obj: VersionExperiment) -> str:
        return ", ".join(f"{label} {weight} %" for label, weight in obj.weights.items())

    @admin.display(description="Compare")
    def compare(self, obj: VersionExperiment) -> str:
        url = reverse("admin:agents_config_versionexperiment_compare", args=[obj.agent_id])
        return format_html('<a href="{}">Compare and promote…</a>', url)

    @admin.action(description="Promote each experiment's heaviest version (live at 100 %%)")
    def promote_heaviest(self, request: HttpRequest, queryset: QuerySet[VersionExperiment]):
        agent_admin = self.admin_site._registry[Agent]
        for experiment in queryset.select_related("agent"):
            agent = experiment.agent
            if not agent_admin.has_change_permission(request, agent):
                self.message_user(request, f"{agent}: permission denied", messages.ERROR)
                continue
            label = max(experiment.weights.items(), key=lambda item: item[1])[0]
            experiment_promote(agent=agent, version=label, actor=Actor.from_request(request))
            self.message_user(request, f"{agent.agent_id}: {label} is live at 100 %.")

    def get_urls(self) -> list:
        return [
            path(
                "compare/<int:agent_pk>/",
                self.admin_site.admin_view(self.compare_view),
                name="agents_config_versionexperiment_compare",
            ),
            *super().get_urls(),
        ]

    def compare_view(self, request: HttpRequest, agent_pk: int) -> HttpResponse:
        """GET: the split and the comparison. POST ``set``: a new split; ``promote``: one
        version live at 100 % (both need change permission on the agent)."""
        agent_admin = self.admin_site._registry[Agent]
        agent = agent_admin._agent_for(request, agent_pk, change=request.method == "POST")
        labels = [
            v.version for v in agent_versions(agent=agent).order_by("-major", "-minor", "-patch")
        ]
        errors: dict[str, list[str]] = {}
        if request.method == "POST":
            try:
                if "promote" in request.POST:
                    version = request.POST["promote"].strip()
                    experiment_promote(
                        agent=agent, version=version, actor=Actor.from_request(request)
                    )
                    self.message_user(request, f"{version} is live at 100 %; experiment ended.")
                else:
                    weights = _weights_from_post(request, labels)
                    experiment_set(agent=agent, weights=weights, actor=Actor.from_request(request))
                    self.message_user(request, "The split is saved; new sessions follow it.")
                return HttpResponseRedirect(request.path)
            except ContractError as exc:
                errors = exc.errors
        weights = experiment_weights(agent=agent)
        rows = version_comparison(agent=agent, versions=list(weights))
        live = agent.published_version.version if agent.published_version else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Version experiment of {agent.agent_id}",
            "agent": agent,
            "live": live,
            "weights": weights,
            "versions": [
                {"label": label, "weight": weights.get(label, 0), "live": label == live}
                for label in labels
            ],
            "rows": [{**row, "weight": weights.get(row["version"], 0)} for row in rows],
            "errors": errors,
            "can_change": agent_admin.has_change_permission(request, agent),
        }
        return TemplateResponse(request, "admin/sessions_app/experiment.html", context)
