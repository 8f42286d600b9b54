"""REST API v1 routes (included under ``api/v1/``)."""

from django.urls import path, re_path

from agents_config import apis as agents
from agents_config.test_suites import apis as suites
from sessions_app import apis as sessions
from sessions_app import experiment_apis as experiments
from sessions_app import tenant_apis as tenants
from sessions_app.telephony import apis as telephony
from tenants import secret_apis as secrets
from tenants.platform.exceptions import api_not_found

config = "agents/config/<str:agent_id>"

urlpatterns = [
    path("agents/config", agents.AgentConfigCreateApi.as_view(), name="api-agent-create"),
    path("agents/list", agents.AgentListApi.as_view(), name="api-agent-list"),
    path("agents/templates", agents.AgentTemplateListApi.as_view(), name="api-agent-templates"),
    path("agents/import", agents.ImportApi.as_view(), name="api-agent-import"),
    path(config, agents.AgentConfigApi.as_view(), name="api-agent-config"),
    path(
        f"{config}/schema/fields",
        agents.SchemaFieldCreateApi.as_view(),
        name="api-agent-field-create",
    ),
    path(
        f"{config}/schema/fields/<str:field_name>",
        agents.SchemaFieldApi.as_view(),
        name="api-agent-field",
    ),
    path(f"{config}/tracing/toggle", agents.TracingToggleApi.as_view(), name="api-agent-tracing"),
    path(f"{config}/publish", agents.PublishApi.as_view(), name="api-agent-publish"),
    path(f"{config}/rollback", agents.RollbackApi.as_view(), name="api-agent-rollback"),
    path(f"{config}/versions", agents.VersionListApi.as_view(), name="api-agent-versions"),
    path(
        f"{config}/versions/<str:version>",
        agents.VersionDetailApi.as_view(),
        name="api-agent-version",
    ),
    path(
        f"{config}/versions/<str:a>/diff/<str:b>",
        agents.VersionDiffApi.as_view(),
        name="api-agent-version-diff",
    ),
    path(f"{config}/export", agents.ExportApi.as_view(), name="api-agent-export"),
    path(f"{config}/experiment", experiments.ExperimentApi.as_view(), name="api-agent-experiment"),
    path(
        f"{config}/experiment/promote",
        experiments.ExperimentPromoteApi.as_view(),
        name="api-agent-experiment-promote",
    ),
    path(f"{config}/tests/run", suites.TestRunStartApi.as_view(), name="api-agent-tests-run"),
    path(
        f"{config}/tests/runs/<int:run_id>",
        suites.TestRunDetailApi.as_view(),
        name="api-agent-tests-run-detail",
    ),
    path(
        f"{config}/tests/cases",
        suites.TestCaseListCreateApi.as_view(),
        name="api-agent-tests-cases",
    ),
    path("tenants/me", tenants.TenantMeApi.as_view(), name="api-tenant-me"),
    path("secrets", secrets.SecretListCreateApi.as_view(), name="api-secrets"),
    path("secrets/<str:name>", secrets.SecretDetailApi.as_view(), name="api-secret"),
    path("sessions", sessions.SessionListCreateApi.as_view(), name="api-sessions"),
    path("sessions/<uuid:session_id>", sessions.SessionDetailApi.as_view(), name="api-session"),
    path(
        "sessions/<uuid:session_id>/end", sessions.SessionEndApi.as_view(), name="api-session-end"
    ),
    path(
        "sessions/<uuid:session_id>/report",
        sessions.SessionReportApi.as_view(),
        name="api-session-report",
    ),
    path("phone-numbers", telephony.PhoneNumberListCreateApi.as_view(), name="api-phone-numbers"),
    path(
        "phone-numbers/<int:number_id>",
        telephony.PhoneNumberDetailApi.as_view(),
        name="api-phone-number",
    ),
    path("outbound-trunk", telephony.OutboundTrunkApi.as_view(), name="api-outbound-trunk"),
    path("calls", telephony.CallCreateApi.as_view(), name="api-calls"),
    path("calls/<uuid:session_id>", telephony.CallDetailApi.as_view(), name="api-call"),
    path(
        "calls/<uuid:session_id>/transfer",
        telephony.CallTransferApi.as_view(),
        name="api-call-transfer",
    ),
    path("campaigns", telephony.CampaignListCreateApi.as_view(), name="api-campaigns"),
    path("campaigns/<int:campaign_id>", telephony.CampaignDetailApi.as_view(), name="api-campaign"),
    path(
        "campaigns/<int:campaign_id>/recipients",
        telephony.CampaignRecipientsApi.as_view(),
        name="api-campaign-recipients",
    ),
    re_path(
        r"^campaigns/(?P<campaign_id>[0-9]+)/(?P<action>start|pause|resume|cancel)$",
        telephony.CampaignControlApi.as_view(),
        name="api-campaign-control",
    ),
    re_path(r"^.*$", api_not_found, name="api-not-found"),
]
