"""Agent templates: validated JSON documents, listed by the API, a draft per template (API and
admin) through the one create service, deployment folders, and a loud system check."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.core import checks
from django.urls import reverse

from agents_config import services
from agents_config.agent_templates import TemplateInvalid, agent_templates, load_templates
from agents_config.contracts import parse_document
from agents_config.models import Agent
from agents_config.providers import ProviderKeys
from agents_config.selectors import agent_draft_document
from tests.api.conftest import _clean_cache, key_client  # noqa: F401
from tests.worker.conftest import fake_openai  # noqa: F401
from worker.textmode import TextConversation

BUILT_IN = {"generic", "interview", "sales", "support"}


@pytest.fixture
def admin_api(tenant, key_client):  # noqa: F811
    return key_client(tenant, "admin")


def write_template(folder, template_id: str, **document_overrides) -> None:
    base = agent_templates()["generic"].document
    document = {**base, "name": f"{template_id} agent", **document_overrides}
    body = {"template_id": template_id, "title": template_id.title(), "document": document}
    (folder / f"{template_id}.json").write_text(json.dumps(body))


def test_templates_are_listed_for_any_role(tenant, key_client):  # noqa: F811
    response = key_client(tenant, "viewer").get("/api/v1/agents/templates")
    assert response.status_code == 200
    templates = {t["template_id"]: t for t in response.json()["templates"]}
    assert set(templates) == BUILT_IN
    assert {t["agent_type"] for t in templates.values()} == BUILT_IN
    sales_fields = {
        f["field_name"] for f in templates["sales"]["document"]["schema_config"]["fields"]
    }
    assert {"lead_score", "budget_confirmed", "decision_maker", "purchase_timeline"} <= sales_fields
    support_fields = {
        f["field_name"] for f in templates["support"]["document"]["schema_config"]["fields"]
    }
    assert {"issue_category", "resolution_status", "escalate"} <= support_fields
    assert "agent_id" not in templates["sales"]["document"]


@pytest.mark.django_db
@pytest.mark.parametrize("template_id", sorted(BUILT_IN))
def test_each_template_creates_a_draft_that_publishes_and_talks(
    template_id,
    tenant,
    fake_openai,  # noqa: F811
):
    agent = services.agent_create_from_template(
        tenant=tenant, template_id=template_id, agent_id=f"{template_id}-one"
    )
    assert agent.config_warnings == []
    version = services.agent_publish(agent=agent)
    raw = parse_document(version.document).to_dict()
    assert raw["agent_type"] == template_id
    raw["llm_config"]["base_url"] = fake_openai.base_url
    document = parse_document(raw)
    fake_openai.add(json.dumps({"voice_instructions": "Warm.", "system_response": "Hello!"}))

    async def talk():
        async with TextConversation(
            document=document, version=version.version, keys=ProviderKeys(openai="sk-test")
        ) as chat:
            return await chat.say("Hi there")

    record = asyncio.run(talk())
    assert record is not None and record.errors == []
    assert record.spoken_text == "Hello!"
    request = fake_openai.chat_requests[0]
    assert request["response_format"]["json_schema"]["schema"] == (
        document.schema_config.compile().json_schema
    )


def test_api_creates_from_a_template_with_overrides(admin_api):
    response = admin_api.post(
        "/api/v1/agents/config?template=sales",
        {
            "agent_id": "acme-sales",
            "name": "Acme sales",
            "prompt_config": {"dynamic_vars": {"company_name": "Acme"}},
            "tts_config": {"voice": "nova"},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["warnings"] == []
    draft = admin_api.get("/api/v1/agents/config/acme-sales").json()
    assert draft["name"] == "Acme sales"
    assert draft["agent_type"] == "sales"
    assert draft["prompt_config"]["dynamic_vars"]["company_name"] == "Acme"
    assert draft["prompt_config"]["dynamic_vars"]["agent_name"] == "Sam"  # merged, not replaced
    assert draft["tts_config"]["voice"] == "nova"
    assert draft["published_version"] is None  # a draft to review, then publish
    assert Agent.objects.get(agent_id="acme-sales").agent_type == "sales"


@pytest.mark.parametrize(
    ("query", "body", "field"),
    [
        ("?template=nope", {"agent_id": "x-one"}, "template"),
        ("?template=sales", {"name": "no id"}, "agent_id"),
        ("?template=sales", {"agent_id": "Bad Id"}, "agent_id"),
        (
            "?template=sales",
            {"agent_id": "x-two", "tts_config": {"voice": "zzz"}},
            "tts_config.voice",
        ),
        ("?template=sales", {"agent_id": "x-three", "colour": "red"}, "colour"),
        ("?templat=sales", {"agent_id": "x-four"}, "templat"),
    ],
)
def test_api_template_errors_are_field_level(admin_api, query, body, field):
    response = admin_api.post(f"/api/v1/agents/config{query}", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not Agent.objects.exists()


def test_api_template_create_needs_the_admin_role(tenant, key_client):  # noqa: F811
    response = key_client(tenant, "developer").post(
        "/api/v1/agents/config?template=generic", {"agent_id": "dev-one"}, format="json"
    )
    assert response.status_code == 403
    assert (
        key_client(tenant, "admin")
        .post("/api/v1/agents/config?template=generic", {"agent_id": "dev-one"}, format="json")
        .status_code
        == 201
    )
    again = key_client(tenant, "admin").post(
        "/api/v1/agents/config?template=generic", {"agent_id": "dev-one"}, format="json"
    )
    assert again.status_code == 409


def test_deployment_templates_from_settings(settings, tmp_path, admin_api):
    write_template(tmp_path, "clinic", agent_type="clinic")
    settings.AGENT_TEMPLATE_DIRS = [str(tmp_path)]
    assert set(agent_templates()) == BUILT_IN | {"clinic"}
    listed = {
        t["template_id"] for t in admin_api.get("/api/v1/agents/templates").json()["templates"]
    }
    assert "clinic" in listed
    response = admin_api.post(
        "/api/v1/agents/config?template=clinic", {"agent_id": "clinic-one"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Agent.objects.get(agent_id="clinic-one").agent_type == "clinic"


def test_a_broken_template_fails_the_system_check(settings, tmp_path):
    write_template(tmp_path, "broken", tts_config={"provider": "openai", "voice": "zzz"})
    (tmp_path / "garbled.json").write_text("{not json")
    settings.AGENT_TEMPLATE_DIRS = [str(tmp_path)]
    errors = [e for e in checks.run_checks() if e.id == "agents_config.E001"]
    assert len(errors) == 2
    assert any("document.tts_config.voice" in e.msg for e in errors)
    assert any("cannot read JSON" in e.msg for e in errors)
    with pytest.raises(TemplateInvalid):
        agent_templates()
    _, problems = load_templates([tmp_path / "missing"])
    assert "not a directory" in problems[0].problems[0]


def test_templates_may_not_fix_the_agent_id(tmp_path):
    write_template(tmp_path, "fixed", agent_id="always-this")
    _, problems = load_templates([tmp_path])
    assert "agent_id" in str(problems[0])


def test_admin_new_agent_from_template(admin_client, tenant):
    changelist = admin_client.get(reverse("admin:agents_config_agent_changelist"))
    url = reverse("admin:agents_config_agent_from_template")
    assert url in changelist.content.decode()
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "Customer support" in page.content.decode()
    response = admin_client.post(
        url,
        {"tenant": tenant.pk, "template": "support", "agent_id": "help-desk", "name": "Help"},
        follow=True,
    )
    assert response.status_code == 200
    agent = Agent.objects.get(agent_id="help-desk")
    assert response.redirect_chain[-1][0] == reverse(
        "admin:agents_config_agent_change", args=[agent.pk]
    )
    assert agent.name == "Help" and agent.agent_type == "support"
    fields = [f["field_name"] for f in agent_draft_document(agent)["schema_config"]["fields"]]
    assert "escalate" in fields
    duplicate = admin_client.post(
        url, {"tenant": tenant.pk, "template": "support", "agent_id": "help-desk"}
    )
    assert duplicate.status_code == 200
    assert "already exists" in duplicate.content.decode()


def test_interview_template_is_the_demo_agent():
    """The interview template is the demo's visa officer (in step with agents_config.demo_agent)."""
    from agents_config.demo_agent import demo_document

    demo = parse_document(demo_document()).to_dict()
    template = agent_templates()["interview"].document
    for section in ("prompt_config", "schema_config", "tts_config", "pipeline_config"):
        assert template[section] == demo[section], section
