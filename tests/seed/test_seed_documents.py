"""The design document's own configuration documents and example calls, verbatim.

Its migration script (section 6.2) marks no spoken field and asks Deepgram for voice
instructions; both are accepted with warnings, and what is stored and exported is explicit.
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from agents_config.contracts import ContractError, parse_document
from agents_config.models import Agent
from agents_config.providers import ProviderKeys
from tests.seed.seed_documents import seed_migration_document
from tests.worker.conftest import demo_turn
from worker.factory import AgentFactory
from worker.textmode import TextConversation

SEED_ID = "pte-interview-agent-v1"
SPOKEN_PATH = "schema_config.fields[1].metadata.spoken"
TTS_PATH = "tts_config.instruction_field"

# The design document's section 4.3 body, verbatim.
PRONUNCIATION_FIELD = {
    "field_name": "pronunciation_score",
    "field_type": "int",
    "description": "Pronunciation accuracy score (0-100)",
    "required": False,
    "default": 0,
    "constraints": {"ge": 0, "le": 100},
    "metadata": {
        "use_in_tts": False,
        "hidden": False,
    },
}


@pytest.fixture
def admin_api(tenant, key_client):
    return key_client(tenant, "admin")


def warning_fields(body: dict) -> set[str]:
    return {w["field"] for w in body["warnings"]}


def spoken_fields(document: dict) -> list[str]:
    return [
        f["field_name"]
        for f in document["schema_config"]["fields"]
        if f.get("metadata", {}).get("spoken")
    ]


def test_contract_infers_the_spoken_field_and_warns():
    document = parse_document(seed_migration_document())
    assert document.schema_config.compile().spoken_field == "system_response"
    assert document.schema_config.compile().tts_instructions_field == "voice_instructions"
    warnings = {w.field: w.message for w in document.warnings()}
    assert "'system_response'" in warnings[SPOKEN_PATH]
    assert "deepgram TTS cannot take voice instructions" in warnings[TTS_PATH]
    # Provider defaults fill what the seed leaves out (a Deepgram voice model, not OpenAI's).
    assert document.tts_config.model == "aura-2-andromeda-en"
    exported = document.to_dict()
    assert spoken_fields(exported) == ["system_response"]
    # Parsing the explicit export infers nothing any more; the Deepgram advisory stays.
    again = parse_document(exported)
    assert [w.field for w in again.warnings()] == [TTS_PATH]


def test_several_candidates_pick_system_response_by_name():
    raw = seed_migration_document()
    raw["schema_config"]["fields"][2]["required"] = True  # internal_assessment: str, required
    document = parse_document(raw)
    assert document.schema_config.compile().spoken_field == "system_response"


def test_no_candidate_is_still_an_error():
    raw = seed_migration_document()
    raw["schema_config"]["fields"][1]["required"] = False
    with pytest.raises(ContractError) as info:
        parse_document(raw)
    assert any("exactly one spoken field" in " ".join(m) for m in info.value.errors.values())


def test_create_publish_and_export_verbatim(admin_api):
    response = admin_api.post("/api/v1/agents/config", seed_migration_document(), format="json")
    assert response.status_code == 201, response.content
    assert warning_fields(response.json()) == {SPOKEN_PATH, TTS_PATH}

    draft = admin_api.get(f"/api/v1/agents/config/{SEED_ID}").json()
    assert spoken_fields(draft) == ["system_response"]
    publish = admin_api.post(
        f"/api/v1/agents/config/{SEED_ID}/publish", {"version": "1.0.0"}, format="json"
    )
    assert publish.status_code in (200, 201), publish.content
    exported = admin_api.get(f"/api/v1/agents/config/{SEED_ID}/export?version=1.0.0").json()
    assert spoken_fields(exported) == ["system_response"]
    assert exported["tts_config"]["provider"] == "deepgram"
    assert exported["tts_config"]["instruction_field"] == "voice_instructions"


def test_import_and_publish_verbatim(admin_api):
    response = admin_api.post(
        "/api/v1/agents/import?publish=true", seed_migration_document(), format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["published_version"] == "1.0.0"  # the document's own version
    assert warning_fields(body) == {SPOKEN_PATH, TTS_PATH}
    agent = Agent.objects.get(agent_id=SEED_ID)
    assert agent.published_version.document["schema_config"]["fields"][1]["metadata"]["spoken"]


def test_update_with_an_unmarked_schema_warns(admin_api):
    admin_api.post("/api/v1/agents/config", seed_migration_document(), format="json")
    fields = seed_migration_document()["schema_config"]["fields"]
    response = admin_api.put(
        f"/api/v1/agents/config/{SEED_ID}",
        {"schema_config": {"fields": fields}},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert SPOKEN_PATH in warning_fields(response.json())


def test_seed_example_calls_on_the_seed_agent(admin_api):
    """Section 4.3 and 4.4's calls against the agent the migration script created (the
    examples address it as ``interview-agent-v1``)."""
    document = seed_migration_document()
    document["agent_id"] = "interview-agent-v1"
    assert admin_api.post("/api/v1/agents/config", document, format="json").status_code == 201

    added = admin_api.post(
        "http://localhost:8000/api/v1/agents/config/interview-agent-v1/schema/fields",
        PRONUNCIATION_FIELD,
        format="json",
    )
    assert added.status_code == 200, added.content
    assert added.json()["status"] == "field_added"
    removed = admin_api.delete(
        "http://localhost:8000/api/v1/agents/config/interview-agent-v1/schema/fields/pronunciation_score"
    )
    assert removed.status_code == 200, removed.content
    assert removed.json()["status"] == "field_removed"
    for enabled in (True, False):
        # httpx renders ``params={"enabled": True}`` as ``enabled=true``.
        toggled = admin_api.post(
            "http://localhost:8000/api/v1/agents/config/interview-agent-v1/tracing/toggle"
            f"?enabled={json.dumps(enabled)}"
        )
        assert toggled.status_code == 200, toggled.content
        assert toggled.json()["status"] == "tracing_updated"
        assert toggled.json()["enabled"] is enabled


def test_admin_import_shows_the_warnings(admin_client, tenant):
    response = admin_client.post(
        reverse("admin:agents_config_agent_import"),
        {"tenant": tenant.pk, "document_text": json.dumps(seed_migration_document())},
        follow=True,
    )
    assert response.status_code == 200
    texts = [str(m) for m in response.context["messages"]]
    assert any("Imported" in t for t in texts)
    assert any(SPOKEN_PATH in t and "system_response" in t for t in texts)
    assert any("deepgram TTS cannot take voice instructions" in t for t in texts)


async def test_seed_agent_talks_in_text_mode(fake_openai):
    """The imported seed agent runs a structured turn (LLM only: Deepgram TTS is not used
    in text mode)."""
    raw = seed_migration_document()
    raw["llm_config"]["base_url"] = fake_openai.base_url
    document = parse_document(raw)
    fake_openai.add(demo_turn("Good morning. Why do you want to study abroad?"))
    keys = ProviderKeys(openai="sk-test", deepgram="dg-test")
    async with TextConversation(document=document, version="1.0.0", keys=keys) as chat:
        record = await chat.say("Good morning.")
    assert record is not None and record.errors == []
    assert record.spoken_text == "Good morning. Why do you want to study abroad?"
    request = fake_openai.chat_requests[0]
    schema = request["response_format"]["json_schema"]["schema"]
    assert list(schema["properties"])[:2] == ["voice_instructions", "say"]
    assert AgentFactory(document=document, keys=keys).build_tts().model == "aura-2-andromeda-en"


def test_admin_change_form_stores_the_inferred_spoken_field(admin_client, agent):
    from agents_config.models import SchemaField
    from tests.test_admin import change_form_data

    SchemaField.objects.filter(agent=agent).update(spoken=False)  # as a seed document leaves it
    url = reverse("admin:agents_config_agent_change", args=[agent.pk])
    response = admin_client.post(url, change_form_data(agent), follow=True)
    assert response.status_code == 200
    texts = [str(m) for m in response.context["messages"]]
    assert any("no field was marked spoken" in t for t in texts), texts
    assert list(
        SchemaField.objects.filter(agent=agent, spoken=True).values_list("field_name", flat=True)
    ) == ["system_response"]
