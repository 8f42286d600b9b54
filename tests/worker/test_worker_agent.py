"""The dynamic agent on the real livekit-agents session and OpenAI plugin, against a fake
OpenAI-compatible server: structured output, spoken-only TTS and transcript, instructions
before the first audio, published and stored turns, degraded replies."""

from __future__ import annotations

import json

import pytest

from tests.fakes.openai_server import Reply
from tests.worker.conftest import blueprint_for, build_factory, demo_turn
from worker.audio import NullAudioOutput
from worker.publisher import MemoryTurnPublisher


async def start_session(factory, publisher, *, audio: bool = True, store=None, **details):
    agent = factory.build_agent(
        blueprint=blueprint_for(factory, **details), publisher=publisher, store=store
    )
    session = factory.build_session()
    sink = NullAudioOutput() if audio else None
    if sink is not None:
        session.output.audio = sink
    await session.start(agent)
    return session, agent, sink


async def test_structured_turn_spoken_text_and_tts_instructions(fake_openai):
    fake_openai.add(demo_turn("May I see your passport?", voice_instructions="Stern, slow."))
    publisher = MemoryTurnPublisher()
    factory = build_factory(fake_openai.base_url)
    session, agent, sink = await start_session(factory, publisher, applicant_name="Ana")
    try:
        result = await session.run(user_input="Good morning, officer.")
        await result
        await agent.turns.flush()
    finally:
        await session.aclose()

    request = fake_openai.chat_requests[0]
    assert request["response_format"]["type"] == "json_schema"
    assert (
        request["response_format"]["json_schema"]["schema"]
        == factory.document.schema_config.compile().json_schema
    )
    assert "Ana" in json.dumps(request["messages"])

    spoken = [r["input"] for r in fake_openai.speech_requests]
    assert "".join(spoken).strip() == "May I see your passport?"
    assert all(r["instructions"] == "Stern, slow." for r in fake_openai.speech_requests)
    assert sink.frames > 0

    [message] = publisher.messages
    assert message["data"]["system_response"] == "May I see your passport?"
    assert "internal_assessment" not in message["data"]
    assert message["valid"] is True
    [record] = agent.turns.records
    assert record.data["internal_assessment"] == "secret notes"
    assert record.tts_ttfb_ms is not None and record.llm_ttft_ms is not None


async def test_llm_sees_earlier_structured_fields_but_transcript_is_spoken(fake_openai):
    fake_openai.add(
        demo_turn("First question?", interview_stage="background_inquiry", red_flags=["vague"]),
        demo_turn("Second question?"),
    )
    factory = build_factory(fake_openai.base_url)
    session, _agent, _ = await start_session(factory, MemoryTurnPublisher())
    try:
        await session.run(user_input="Hello")
        await session.run(user_input="I study physics")
    finally:
        await session.aclose()
    second = fake_openai.chat_requests[1]["messages"]
    assistant = [m for m in second if m["role"] == "assistant"]
    # few-shot example first, then the previous turn as full JSON (hidden notes included)
    previous = json.loads(assistant[-1]["content"])
    assert previous["interview_stage"] == "background_inquiry"
    assert previous["red_flags"] == ["vague"]
    assert previous["internal_assessment"] == "secret notes"
    history = [
        item.text_content
        for item in session.history.items
        if getattr(item, "role", "") == "assistant"
    ]
    assert history[-2:] == ["First question?", "Second question?"]


async def test_plain_text_reply_is_spoken_and_recorded_as_error(fake_openai):
    fake_openai.add("Sorry, could you repeat that?")
    factory = build_factory(fake_openai.base_url)
    publisher = MemoryTurnPublisher()
    session, agent, _ = await start_session(factory, publisher)
    try:
        await session.run(user_input="Hello")
        await agent.turns.flush()
    finally:
        await session.aclose()
    [record] = agent.turns.records
    assert record.spoken_text == "Sorry, could you repeat that?"
    assert record.structured is False
    assert any("plain text" in e for e in record.errors)
    assert "".join(r["input"] for r in fake_openai.speech_requests).strip() == record.spoken_text
    assert publisher.messages[0]["valid"] is False


async def test_broken_json_keeps_spoken_prefix(fake_openai):
    fake_openai.add('{"voice_instructions": "Calm.", "system_response": "Your passport, ple')
    factory = build_factory(fake_openai.base_url)
    session, agent, _ = await start_session(factory, MemoryTurnPublisher())
    try:
        await session.run(user_input="Hello")
        await agent.turns.flush()
    finally:
        await session.aclose()
    [record] = agent.turns.records
    assert record.spoken_text == "Your passport, ple"
    assert record.data["system_response"] == "Your passport, ple"
    assert any("invalid JSON" in e for e in record.errors)


async def test_provider_error_speaks_fallback_and_session_continues(fake_openai):
    fake_openai.add(Reply(status=500), demo_turn("Back again."))
    factory = build_factory(
        fake_openai.base_url, pipeline_config={"fallback_line": "One moment, please."}
    )
    factory.llm_retries = 0
    session, agent, _ = await start_session(factory, MemoryTurnPublisher())
    try:
        await session.run(user_input="Hello")
        await session.run(user_input="Hello again")
        await agent.turns.flush()
    finally:
        await session.aclose()
    first, second = agent.turns.records
    assert first.spoken_text == "One moment, please."
    assert any("LLM error" in e for e in first.errors)
    assert second.spoken_text == "Back again."
    assert second.errors == []


async def test_empty_spoken_field_uses_fallback_line(fake_openai):
    fake_openai.add(demo_turn(""))
    factory = build_factory(fake_openai.base_url)
    session, agent, _ = await start_session(factory, MemoryTurnPublisher(), audio=False)
    try:
        await session.run(user_input="Hello")
        await agent.turns.flush()
    finally:
        await session.aclose()
    [record] = agent.turns.records
    assert record.spoken_text == factory.document.pipeline_config.fallback_line
    assert any("system_response: is empty" in e for e in record.errors)


async def test_without_structured_output_support_asks_for_json_in_prompt(fake_openai):
    fake_openai.add(demo_turn("Hello there."))
    factory = build_factory(fake_openai.base_url)
    raw = factory.document.to_dict()
    raw["llm_config"]["supports_structured_output"] = False
    from agents_config.contracts import parse_document

    factory.document = parse_document(raw)
    session, agent, _ = await start_session(factory, MemoryTurnPublisher(), audio=False)
    try:
        await session.run(user_input="Hello")
        await agent.turns.flush()
    finally:
        await session.aclose()
    request = fake_openai.chat_requests[0]
    assert "response_format" not in request
    assert "JSON Schema" in request["messages"][-1]["content"]
    assert agent.turns.records[0].spoken_text == "Hello there."


async def test_custom_nodes_apply_to_stored_texts(fake_openai):
    long_text = "This is a sentence. " * 60
    fake_openai.add(demo_turn(long_text.strip()))
    factory = build_factory(
        fake_openai.base_url,
        pipeline_config={"custom_nodes": ["pii_redaction", "max_spoken_length"]},
    )
    session, agent, _ = await start_session(factory, MemoryTurnPublisher(), audio=False)
    try:
        await session.run(user_input="Mail me at ana@example.com or +1 415 555 0100")
        await agent.turns.flush()
    finally:
        await session.aclose()
    [record] = agent.turns.records
    assert "ana@example.com" not in record.user_text and "[email]" in record.user_text
    assert "[phone]" in record.user_text
    assert len(record.spoken_text) <= 600


@pytest.mark.django_db(transaction=True)
async def test_turn_is_stored_on_the_session(fake_openai, settings):
    from asgiref.sync import sync_to_async

    from agents_config.factories import make_agent
    from agents_config.services import agent_publish
    from sessions_app.models import Turn
    from sessions_app.services import session_create
    from tenants.factories import TenantFactory
    from worker.store import SessionTurnStore, close_connections

    def setup():
        tenant = TenantFactory()
        agent = make_agent(tenant=tenant)
        agent_publish(agent=agent, version="1.0.0")
        return session_create(tenant=tenant, agent_id=agent.agent_id, user_id="u1")

    settings.LIVEKIT_URL = ""  # provisioning fails fast and is not part of this test
    db_session = await sync_to_async(setup)()
    fake_openai.add(demo_turn("Passport, please."))
    factory = build_factory(fake_openai.base_url)
    session, agent, _ = await start_session(
        factory, MemoryTurnPublisher(), store=SessionTurnStore(str(db_session.id))
    )
    try:
        await session.run(user_input="Hi, my email is a@b.co")
        await agent.turns.flush()
    finally:
        await session.aclose()
        await close_connections()
    turn = await Turn.objects.aget(session_id=db_session.id)
    assert turn.index == 1
    assert turn.spoken_text == "Passport, please."
    assert turn.user_text == "Hi, my email is [email]"
    assert turn.structured_output["internal_assessment"] == "secret notes"
    assert turn.validation_errors == []
    assert turn.llm_ttft_ms is not None and turn.first_spoken_ms is not None
    assert turn.tts_ttfb_ms is not None
    assert turn.spoken_complete_ms is not None and turn.spoken_complete_ms >= turn.first_spoken_ms


async def test_the_llm_writes_and_sees_the_spoken_field_under_its_wire_key(fake_openai):
    """A model following the schema writes ``say``; the turn, the message and the store see
    ``system_response``; the history and few-shot examples shown back use ``say``."""
    fake_openai.add(
        demo_turn("First question?").replace('"system_response"', '"say"'),
        demo_turn("Second question?").replace('"system_response"', '"say"'),
    )
    publisher = MemoryTurnPublisher()
    factory = build_factory(fake_openai.base_url)
    session, agent, _ = await start_session(factory, publisher)
    try:
        await session.run(user_input="Hello")
        await session.run(user_input="I study physics")
        await agent.turns.flush()
    finally:
        await session.aclose()
    first, second = agent.turns.records
    assert first.errors == [] and first.data["system_response"] == "First question?"
    assert "say" not in first.data and second.data["system_response"] == "Second question?"
    assert publisher.messages[0]["data"]["system_response"] == "First question?"
    shown = [m for m in fake_openai.chat_requests[1]["messages"] if m["role"] == "assistant"]
    example, previous = json.loads(shown[0]["content"]), json.loads(shown[-1]["content"])
    assert previous["say"] == "First question?" and "system_response" not in previous
    assert example["say"].startswith("Good morning.") and "system_response" not in example
    assert [r["input"] for r in fake_openai.speech_requests][-1].strip() == "Second question?"
