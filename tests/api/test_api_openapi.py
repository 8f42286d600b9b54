"""The OpenAPI schema builds cleanly, documents every endpoint and error, and docs are offline."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

API_PATHS = {
    "/api/v1/agents/config": {"post"},
    "/api/v1/agents/config/{agent_id}": {"get", "put", "delete"},
    "/api/v1/agents/config/{agent_id}/schema/fields": {"post"},
    "/api/v1/agents/config/{agent_id}/schema/fields/{field_name}": {"delete"},
    "/api/v1/agents/config/{agent_id}/tracing/toggle": {"post"},
    "/api/v1/agents/config/{agent_id}/experiment": {"get", "put"},
    "/api/v1/agents/config/{agent_id}/experiment/promote": {"post"},
    "/api/v1/agents/config/{agent_id}/publish": {"post"},
    "/api/v1/agents/config/{agent_id}/rollback": {"post"},
    "/api/v1/agents/config/{agent_id}/versions": {"get"},
    "/api/v1/agents/config/{agent_id}/versions/{version}": {"get"},
    "/api/v1/agents/config/{agent_id}/versions/{a}/diff/{b}": {"get"},
    "/api/v1/agents/config/{agent_id}/export": {"get"},
    "/api/v1/agents/config/{agent_id}/tests/run": {"post"},
    "/api/v1/agents/config/{agent_id}/tests/runs/{run_id}": {"get"},
    "/api/v1/agents/config/{agent_id}/tests/cases": {"get", "post"},
    "/api/v1/agents/import": {"post"},
    "/api/v1/agents/list": {"get"},
    "/api/v1/agents/templates": {"get"},
    "/api/v1/tenants/me": {"get"},
    "/api/v1/secrets": {"get", "post"},
    "/api/v1/secrets/{name}": {"delete"},
    "/api/v1/sessions": {"get", "post"},
    "/api/v1/sessions/{session_id}": {"get"},
    "/api/v1/sessions/{session_id}/end": {"post"},
    "/api/v1/sessions/{session_id}/report": {"get"},
    "/api/v1/phone-numbers": {"get", "post"},
    "/api/v1/phone-numbers/{number_id}": {"get", "patch", "delete"},
    "/api/v1/outbound-trunk": {"get", "put"},
    "/api/v1/calls": {"post"},
    "/api/v1/calls/{session_id}": {"get"},
    "/api/v1/calls/{session_id}/transfer": {"post"},
    "/api/v1/campaigns": {"get", "post"},
    "/api/v1/campaigns/{campaign_id}": {"get"},
    "/api/v1/campaigns/{campaign_id}/recipients": {"post"},
    "/api/v1/campaigns/{campaign_id}/{action}": {"post"},
}


def test_schema_builds_without_warnings(tmp_path):
    target = tmp_path / "schema.json"
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", target
    )
    schema = json.loads(target.read_text())
    assert schema["openapi"].startswith("3.")
    assert {path: set(ops) for path, ops in schema["paths"].items()} == API_PATHS


@pytest.mark.django_db
def test_every_operation_documents_its_errors(client):
    schema = client.get("/api/schema/?format=json").json()
    error_ref = "#/components/schemas/Error"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for status in ("401", "403", "429"):
                content = responses[status]["content"]["application/json"]["schema"]
                assert content == {"$ref": error_ref}, (method, path, status)
            if method in {"post", "put"} and "requestBody" in operation:
                assert {"400", "413", "415"} <= set(responses), (method, path)
            if "{agent_id}" in path:
                assert "404" in responses, (method, path)
            assert operation["security"] == [{"tenantApiKey": []}, {"cookieAuth": []}]
    assert schema["components"]["securitySchemes"]["tenantApiKey"]["scheme"] == "bearer"


@pytest.mark.django_db
def test_swagger_ui_is_served_offline(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "drf_spectacular_sidecar" in html
    assert "cdn." not in html
