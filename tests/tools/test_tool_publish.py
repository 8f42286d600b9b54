"""Publish-time checks of tools_config: secrets exist, handoff targets are published agents
of the tenant, MCP and tool URLs pass the outbound policy; field-level 400s in the API."""

from __future__ import annotations

import pytest

from agents_config.contracts import ContractError
from agents_config.factories import make_agent
from agents_config.services import agent_publish, agent_update_sections
from tenants.factories import TenantFactory
from tenants.services import tenant_secret_set

pytestmark = pytest.mark.django_db

HTTP_TOOL = {
    "kind": "http",
    "name": "lookup",
    "description": "Look up.",
    "url": "https://api.example.com/x",
    "headers": {"X-Key": "{{ secret.crm_token }}"},
}


def with_tools(agent, tools, **rest):
    agent_update_sections(agent=agent, partial={"tools_config": {"tools": tools, **rest}})
    agent.refresh_from_db()
    return agent


def publish_errors(agent) -> dict[str, list[str]]:
    with pytest.raises(ContractError) as info:
        agent_publish(agent=agent, version="1.0.0")
    return info.value.errors


@pytest.fixture(autouse=True)
def _public_dns(monkeypatch):
    """api.example.com resolves to a public address without the network."""
    import socket

    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host.endswith("example.com"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def test_a_missing_secret_blocks_publishing_until_it_is_set(tenant):
    agent = with_tools(make_agent(tenant=tenant), [HTTP_TOOL])
    errors = publish_errors(agent)
    assert "crm_token" in errors["tools_config.tools[0].headers.X-Key"][0]
    tenant_secret_set(tenant=tenant, name="crm_token", value="v")
    assert agent_publish(agent=agent, version="1.0.0").version == "1.0.0"


def test_handoff_targets_must_be_published_agents_of_the_same_tenant(tenant):
    other = make_agent(tenant=TenantFactory(), agent_id="billing")
    agent_publish(agent=other, version="1.0.0")
    draft_target = make_agent(tenant=tenant, agent_id="support")
    handoffs = [
        {
            "kind": "transfer_to_agent",
            "name": "to_billing",
            "description": "d",
            "agent_id": "billing",
        },
        {
            "kind": "transfer_to_agent",
            "name": "to_support",
            "description": "d",
            "agent_id": "support",
        },
    ]
    agent = with_tools(make_agent(tenant=tenant, agent_id="front"), handoffs)
    errors = publish_errors(agent)
    assert "No agent 'billing' in this tenant." in errors["tools_config.tools[0].agent_id"][0]
    assert "no published version" in errors["tools_config.tools[1].agent_id"][0]
    agent_publish(agent=draft_target, version="1.0.0")
    with_tools(agent, handoffs[1:])
    assert agent_publish(agent=agent, version="1.0.0")


def test_mcp_and_tool_urls_pass_the_outbound_policy(tenant, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    settings.OUTBOUND_ALLOWED_HOSTS = []
    agent = make_agent(tenant=tenant)
    with pytest.raises(ContractError) as info:
        with_tools(
            agent,
            [
                {
                    **HTTP_TOOL,
                    "headers": {},
                    "url": "http://127.0.0.1:9/x/{id}",
                    "parameters": [{"field_name": "id", "field_type": "int"}],
                }
            ],
            mcp_servers=[
                {"name": "crm", "url": "http://10.0.0.5/mcp", "allowed_tools": ["search"]}
            ],
        )
    errors = info.value.errors
    assert "tools_config.tools[0].url" in errors
    assert "tools_config.mcp_servers[0].url" in errors


def test_the_api_answers_a_field_level_400(tenant, key_client):
    agent = with_tools(make_agent(tenant=tenant), [HTTP_TOOL])
    client = key_client(tenant, "admin")
    response = client.post(
        f"/api/v1/agents/config/{agent.agent_id}/publish", {"version": "1.0.0"}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "crm_token" in str(response.json())
    assert "tools_config.tools[0].headers.X-Key" in str(response.json())


def test_editors_may_not_add_http_tools(tenant, key_client):
    agent = make_agent(tenant=tenant)
    client = key_client(tenant, "developer")
    response = client.put(
        f"/api/v1/agents/config/{agent.agent_id}",
        {"tools_config": {"tools": [HTTP_TOOL]}},
        format="json",
    )
    assert response.status_code == 403, response.content
