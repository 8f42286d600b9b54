"""The tools_config contract: discriminated tools, typed parameters, MCP servers, secrets."""

from __future__ import annotations

import copy

import pytest
from django.core.exceptions import ValidationError

from agents_config.contracts import ContractError, parse_document, parse_section
from agents_config.demo_agent import demo_document
from tenants.models import AuditEvent, TenantSecret
from tenants.selectors import tenant_secret_names, tenant_secret_values
from tenants.services import tenant_secret_delete, tenant_secret_set

LOOKUP = {
    "kind": "http",
    "name": "lookup_order",
    "description": "Find an order by its number.",
    "parameters": [
        {"field_name": "order_id", "field_type": "str", "constraints": {"pattern": "^[0-9]+$"}},
        {"field_name": "verbose", "field_type": "bool", "required": False},
    ],
    "url": "https://api.example.com/orders/{order_id}",
    "headers": {"Authorization": "Bearer {{ secret.crm_token }}"},
    "response": {"fields": ["status", "eta"]},
}
TOOLS = {
    "tools": [
        LOOKUP,
        {"kind": "end_call", "name": "end_call", "description": "Hang up.", "goodbye": "Bye!"},
        {
            "kind": "transfer_to_agent",
            "name": "to_billing",
            "description": "Billing questions.",
            "agent_id": "billing",
        },
        {
            "kind": "transfer_call",
            "name": "to_human",
            "description": "A person.",
            "phone_number": "+14155550100",
        },
    ],
    "mcp_servers": [
        {
            "name": "crm",
            "url": "https://mcp.example.com/mcp",
            "auth_secret": "mcp_key",
            "allowed_tools": ["search"],
        }
    ],
}


def section_errors(data) -> dict[str, list[str]]:
    with pytest.raises(ContractError) as info:
        parse_section("tools_config", data)
    return info.value.errors


def test_a_complete_section_parses_with_its_secrets_targets_and_argument_schema():
    tools = parse_section("tools_config", TOOLS)
    assert tools.secret_names() == {"crm_token", "mcp_key"}
    assert tools.handoff_targets() == [(("tools", 2, "agent_id"), "billing")]
    schema = tools.tools[0].compile_parameters().json_schema
    assert schema["properties"]["order_id"] == {"type": "string", "pattern": "^[0-9]+$"}
    assert schema["properties"]["verbose"] == {"type": ["boolean", "null"]}
    assert schema["additionalProperties"] is False
    assert tools.tools[0].timeout_seconds == 5.0
    assert tools.tools[0].effect == "read"


def test_the_document_carries_the_section_and_round_trips():
    document = copy.deepcopy(demo_document())
    document["tools_config"] = TOOLS
    parsed = parse_document(document)
    assert parse_document(parsed.to_dict()).to_dict() == parsed.to_dict()
    urls = {u.field: u for u in parsed.outbound_urls()}
    assert urls["tools_config.tools[0].url"].key_provider is None
    assert urls["tools_config.mcp_servers[0].url"].url == "https://mcp.example.com/mcp"
    # a document without the section gets an empty one
    assert parse_document(demo_document()).tools_config.tools == []


@pytest.mark.parametrize(
    ("tool", "path", "fragment"),
    [
        ({**LOOKUP, "kind": "shell"}, "tools_config.tools[0]", "kind must be one of"),
        ({**LOOKUP, "name": "1abc"}, "tools_config.tools[0].name", "identifier"),
        ({**LOOKUP, "timeout_seconds": 31}, "tools_config.tools[0].timeout_seconds", "30"),
        ({**LOOKUP, "url": "ftp://x/{order_id}"}, "tools_config.tools[0].url", "http"),
        ({**LOOKUP, "url": "https://{order_id}.example.com/"}, "tools_config.tools[0].url", "path"),
        (
            {**LOOKUP, "url": "https://api.example.com/{nope}"},
            "tools_config.tools[0].url",
            "not a declared parameter",
        ),
        (
            {**LOOKUP, "parameters": [{"field_name": "order_id", "field_type": "strr"}]},
            "tools_config.tools[0].parameters[0].field_type",
            "",
        ),
        (
            {**LOOKUP, "headers": {"Idempotency-Key": "x"}},
            "tools_config.tools[0].headers",
            "set by the platform",
        ),
        (
            {**LOOKUP, "headers": {"X-Key": "{{ env.HOME }}"}},
            "tools_config.tools[0].headers.X-Key",
            "secret.NAME",
        ),
        (
            {"kind": "transfer_call", "name": "t", "description": "d", "phone_number": "555"},
            "tools_config.tools[0].phone_number",
            "pattern",
        ),
    ],
)
def test_invalid_tools_are_field_level_errors(tool, path, fragment):
    errors = section_errors({"tools": [tool]})
    assert path in errors, errors
    assert fragment in " ".join(errors[path])


def test_names_are_unique_across_tools_and_mcp_allow_lists():
    errors = section_errors(
        {
            "tools": [LOOKUP, {**LOOKUP, "description": "again"}],
            "mcp_servers": [
                {"name": "a", "url": "https://m.example.com/", "allowed_tools": ["lookup_order"]}
            ],
        }
    )
    assert "duplicate tool name" in errors["tools_config.tools[1].name"][0]
    assert "already used" in errors["tools_config.mcp_servers[0].allowed_tools[0]"][0]


def test_tenant_secrets_are_encrypted_audited_and_read_by_name(tenant):
    secret = tenant_secret_set(tenant=tenant, name="crm_token", value="s3cret-value")
    stored = TenantSecret.objects.get(pk=secret.pk)
    assert "s3cret-value" not in stored.encrypted_value
    tenant_secret_set(tenant=tenant, name="crm_token", value="rotated")
    assert tenant_secret_values(tenant_id=tenant.pk, names=["crm_token", "absent"]) == {
        "crm_token": "rotated"
    }
    assert tenant_secret_names(tenant_id=tenant.pk) == {"crm_token"}
    with pytest.raises(ValidationError):
        tenant_secret_set(tenant=tenant, name="bad name", value="x")
    tenant_secret_delete(secret=stored)
    actions = list(
        AuditEvent.objects.filter(tenant=tenant, target="crm_token").values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == ["secret.created", "secret.deleted", "secret.updated"]
    assert not any("rotated" in str(e.details) for e in AuditEvent.objects.all())
