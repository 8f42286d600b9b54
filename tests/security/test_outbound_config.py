"""Outbound URLs in agent configs: only admins change them (403 naming the field for a
developer, in the API and the Django admin), they pass the URL policy at save time, and a
URL that would receive the platform's key must be one the deployment allows (400 naming
the field, at save and at publish)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from agents_config.factories import agent_document, make_agent
from agents_config.models import Agent
from tenants.services import credential_set
from tests.test_admin import change_form_data

pytestmark = pytest.mark.django_db

PUBLIC_LLM = "https://93.184.215.14/v1"  # a literal public address: no DNS needed
KEY_REFUSAL = "a custom endpoint needs the tenant's own openai credential"


@pytest.fixture
def strict(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    settings.PLATFORM_KEY_ALLOWED_BASE_URLS = []
    settings.OPENAI_BASE_URL = ""
    return settings


@pytest.fixture
def agent_url(agent):
    return f"/api/v1/agents/config/{agent.agent_id}"


def fields_of(response) -> dict[str, list[str]]:
    return response.json()["error"]["fields"]


def test_a_private_base_url_is_a_field_level_400(strict, agent, agent_url, key_client):
    admin = key_client(agent.tenant, "admin")
    for url in ("http://10.0.0.1/v1", "http://[::1]:8080/v1", "http://169.254.169.254/"):
        response = admin.put(agent_url, {"llm_config": {"base_url": url}}, format="json")
        assert response.status_code == 400, response.json()
        assert "private, loopback or reserved" in " ".join(
            fields_of(response)["llm_config.base_url"]
        )
    response = admin.put(
        agent_url,
        {"tracing_config": {"provider": "otlp", "endpoint": "http://100.64.0.9:4318"}},
        format="json",
    )
    assert response.status_code == 400
    assert "CGNAT" in " ".join(fields_of(response)["tracing_config.endpoint"])
    response = admin.put(
        agent_url, {"llm_config": {"base_url": "https://u:p@93.184.215.14/"}}, format="json"
    )
    assert response.status_code == 400 and "llm_config.base_url" in fields_of(response)
    agent.refresh_from_db()
    assert agent.llm_config.get("base_url") is None  # nothing stored


def test_platform_key_needs_an_allowed_endpoint_at_save(strict, agent, agent_url, key_client):
    admin = key_client(agent.tenant, "admin")
    response = admin.put(agent_url, {"llm_config": {"base_url": PUBLIC_LLM}}, format="json")
    assert response.status_code == 400
    (message,) = fields_of(response)["llm_config.base_url"]
    assert message.startswith(KEY_REFUSAL) and "https://api.openai.com" in message
    # the provider's own endpoint is fine with the platform key
    ok = admin.put(
        agent_url, {"llm_config": {"base_url": "https://api.openai.com/v1"}}, format="json"
    )
    assert ok.status_code in (200, 400)  # 400 only if api.openai.com does not resolve here
    if ok.status_code == 400:
        assert KEY_REFUSAL not in " ".join(fields_of(ok)["llm_config.base_url"])
    # listed by the deployment
    strict.PLATFORM_KEY_ALLOWED_BASE_URLS = ["https://93.184.215.14"]
    assert (
        admin.put(agent_url, {"llm_config": {"base_url": PUBLIC_LLM}}, format="json").status_code
        == 200
    )


def test_the_tenants_own_credential_may_go_to_a_custom_endpoint(
    strict, agent, agent_url, key_client
):
    credential_set(tenant=agent.tenant, provider="openai", value="sk-tenant")
    admin = key_client(agent.tenant, "admin")
    response = admin.put(agent_url, {"llm_config": {"base_url": PUBLIC_LLM}}, format="json")
    assert response.status_code == 200, response.json()
    langfuse = {"enabled": True, "provider": "langfuse", "endpoint": "https://93.184.215.14"}
    response = admin.put(agent_url, {"tracing_config": langfuse}, format="json")
    assert response.status_code == 400
    assert "own langfuse credential" in " ".join(fields_of(response)["tracing_config.endpoint"])
    # OTLP sends no platform key: only the URL policy applies
    otlp = {**langfuse, "provider": "otlp"}
    assert admin.put(agent_url, {"tracing_config": otlp}, format="json").status_code == 200


def test_publish_checks_every_url_again(settings, agent, agent_url, key_client):
    admin = key_client(agent.tenant, "admin")
    # saved while the deployment allowed loopback and listed it for platform keys
    response = admin.put(
        agent_url, {"llm_config": {"base_url": "http://127.0.0.1:9/v1"}}, format="json"
    )
    assert response.status_code == 200
    settings.PLATFORM_KEY_ALLOWED_BASE_URLS = []
    response = admin.post(f"{agent_url}/publish", {}, format="json")
    assert response.status_code == 400
    assert fields_of(response)["llm_config.base_url"][0].startswith(KEY_REFUSAL)
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    response = admin.post(f"{agent_url}/publish", {}, format="json")
    assert "loopback" in " ".join(fields_of(response)["llm_config.base_url"])
    agent.refresh_from_db()
    assert agent.published_version is None


def test_a_developer_may_not_change_outbound_urls(agent, agent_url, key_client):
    developer = key_client(agent.tenant, "developer")
    response = developer.put(
        agent_url, {"llm_config": {"base_url": "http://127.0.0.1:9/v1"}}, format="json"
    )
    assert response.status_code == 403
    body = response.json()["error"]
    assert body["code"] == "permission_denied"
    assert "only a tenant admin" in body["fields"]["llm_config.base_url"][0]
    response = developer.put(
        agent_url,
        {"tracing_config": {"provider": "otlp", "endpoint": "http://127.0.0.1:4318"}},
        format="json",
    )
    assert response.status_code == 403 and "tracing_config.endpoint" in fields_of(response)

    # an admin sets it; the developer may edit everything else, sending it back unchanged
    admin = key_client(agent.tenant, "admin")
    assert (
        admin.put(
            agent_url, {"llm_config": {"base_url": "http://127.0.0.1:9/v1"}}, format="json"
        ).status_code
        == 200
    )
    document = developer.get(agent_url).json()
    document["llm_config"]["temperature"] = 0.2
    assert developer.put(agent_url, document, format="json").status_code == 200
    cleared = developer.put(agent_url, {"llm_config": {"base_url": None}}, format="json")
    assert cleared.status_code == 403  # clearing is a change too
    agent.refresh_from_db()
    assert agent.llm_config["base_url"] == "http://127.0.0.1:9/v1"
    assert agent.llm_config["temperature"] == 0.2


def test_a_developer_may_not_import_new_outbound_urls(agent, key_client):
    from agents_config.services import OutboundURLForbidden, agent_import

    document = agent_document(agent_id=agent.agent_id)
    document["tracing_config"] = {"provider": "otlp", "endpoint": "http://127.0.0.1:4318"}
    developer = key_client(agent.tenant, "developer")
    response = developer.post("/api/v1/agents/import?replace=true", document, format="json")
    assert response.status_code == 403  # importing is an admin action anyway
    # the service applies the same rule to any caller that passes a role
    with pytest.raises(OutboundURLForbidden) as info:
        agent_import(tenant=agent.tenant, data=document, replace=True, role="developer")
    assert "tracing_config.endpoint" in info.value.fields
    document["tracing_config"] = agent.tracing_config  # unchanged: fine
    agent_import(tenant=agent.tenant, data=document, replace=True, role="developer")
    admin = key_client(agent.tenant, "admin")
    document["tracing_config"] = {"provider": "otlp", "endpoint": "http://127.0.0.1:4318"}
    response = admin.post("/api/v1/agents/import?replace=true", document, format="json")
    assert response.status_code == 200, response.json()


def test_a_developer_may_not_roll_back_to_another_url(agent, agent_url, key_client):
    from agents_config.services import agent_publish, agent_update_sections

    agent_update_sections(agent=agent, partial={"llm_config": {"base_url": "http://127.0.0.1:9"}})
    agent_publish(agent=agent, version="1.0.0")
    agent_update_sections(agent=agent, partial={"llm_config": {"base_url": None}})
    agent_publish(agent=agent, version="1.1.0")
    developer = key_client(agent.tenant, "developer")
    response = developer.post(f"{agent_url}/rollback", {"version": "1.0.0"}, format="json")
    assert response.status_code == 403 and "llm_config.base_url" in fields_of(response)


def test_admin_create_with_a_refused_url_is_400(strict, tenant, key_client):
    document = agent_document(agent_id="fresh")
    document["llm_config"] = {**document["llm_config"], "base_url": "http://192.168.1.1/v1"}
    response = key_client(tenant, "admin").post("/api/v1/agents/config", document, format="json")
    assert response.status_code == 400 and "llm_config.base_url" in fields_of(response)
    assert not Agent.objects.filter(agent_id="fresh").exists()


# --- the Django admin calls the same check with the staff member's role -------------------


def test_admin_form_developer_may_not_change_outbound_urls(client, member_factory, agent):
    developer = member_factory(agent.tenant, "developer")
    client.force_login(developer)
    url = reverse("admin:agents_config_agent_change", args=[agent.pk])
    response = client.post(
        url, change_form_data(agent, llm_config__base_url="http://127.0.0.1:9/v1")
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "only a tenant admin" in " ".join(errors["llm_config__base_url"])
    agent.refresh_from_db()
    assert agent.llm_config.get("base_url") is None
    # other edits are fine
    response = client.post(url, change_form_data(agent, llm_config__temperature="0.4"))
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.llm_config["temperature"] == 0.4


def test_admin_form_checks_the_url_policy_and_platform_keys(strict, client, member_factory):
    agent = make_agent()
    owner = member_factory(agent.tenant, "admin")
    client.force_login(owner)
    url = reverse("admin:agents_config_agent_change", args=[agent.pk])
    response = client.post(url, change_form_data(agent, llm_config__base_url="http://10.1.1.1"))
    errors = response.context["adminform"].form.errors
    assert "private" in " ".join(errors["llm_config__base_url"])
    response = client.post(url, change_form_data(agent, llm_config__base_url=PUBLIC_LLM))
    errors = response.context["adminform"].form.errors
    assert KEY_REFUSAL in " ".join(errors["llm_config__base_url"])
    credential_set(tenant=agent.tenant, provider="openai", value="sk-tenant")
    response = client.post(url, change_form_data(agent, llm_config__base_url=PUBLIC_LLM))
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.llm_config["base_url"] == PUBLIC_LLM
