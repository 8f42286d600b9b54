"""Failures never leave the caller in silence: an LLM fallback chain (livekit's
``llm.FallbackAdapter``) answers when the primary is down, and a process whose end-of-turn
model did not load runs its sessions on VAD endpointing instead of failing them."""

from __future__ import annotations

import pytest
from livekit.agents.utils import http_context

from agents_config.contracts import ContractError, parse_document
from agents_config.providers import ProviderKeys
from tests.fakes.openai_server import Reply
from tests.worker.conftest import blueprint_for, build_factory, demo_turn
from worker.audio import NullAudioOutput
from worker.factory import AgentFactory
from worker.publisher import MemoryTurnPublisher

DOWN = "http://127.0.0.1:9/v1"  # nothing listens there: connection refused


def with_fallback(fake_openai):
    base = build_factory(DOWN).document.to_dict()
    llm_config = {**base["llm_config"], "base_url": DOWN}
    llm_config["fallbacks"] = [
        {**llm_config, "model": "backup-model", "base_url": fake_openai.base_url}
    ]
    return build_factory(DOWN, llm_config=llm_config)


async def test_llm_fallback_answers_when_the_primary_is_down(fake_openai):
    from livekit.agents import llm

    fake_openai.add(demo_turn("May I see your passport?"))
    factory = with_fallback(fake_openai)
    agent = factory.build_agent(blueprint=blueprint_for(factory), publisher=MemoryTurnPublisher())
    assert isinstance(agent.llm, llm.FallbackAdapter)
    session = factory.build_session()
    await session.start(agent)
    try:
        await session.run(user_input="Good morning.")
        await agent.turns.flush()
    finally:
        await session.aclose()
        await factory.aclose()
    [record] = agent.turns.records
    assert record.spoken_text == "May I see your passport?"
    assert record.errors == []
    [request] = fake_openai.chat_requests
    assert request["model"] == "backup-model"
    assert request["response_format"]["type"] == "json_schema"


def test_a_fallback_has_no_fallbacks_of_its_own():
    raw = build_factory(DOWN).document.to_dict()
    inner = {**raw["llm_config"], "fallbacks": [raw["llm_config"]]}
    raw["llm_config"]["fallbacks"] = [inner]
    with pytest.raises(ContractError):
        parse_document(raw)


async def test_end_of_turn_model_missing_falls_back_to_vad_endpointing(fake_openai):
    document = build_factory(fake_openai.base_url).document
    assert document.pipeline_config.turn_detection
    factory = AgentFactory(
        document=document,
        keys=ProviderKeys(openai="sk-test", deepgram="dg-test"),
        eot_ready=False,
    )
    options = factory.session_options()
    assert options["turn_handling"]["turn_detection"] == "vad"
    assert any("end-of-turn model" in note for note in factory.notes)
    session = factory.build_session()
    session.output.audio = NullAudioOutput()
    agent = factory.build_agent(blueprint=blueprint_for(factory), publisher=MemoryTurnPublisher())
    await session.start(agent)  # starts instead of raising
    await session.aclose()
    await factory.aclose()


async def test_tts_fallback_speaks_when_the_primary_is_down(fake_openai):
    """Deepgram's TTS is unreachable here; the OpenAI fallback speaks, with the instructions."""
    from livekit.agents import tts

    fake_openai.add(demo_turn("May I see your passport?", voice_instructions="Stern, slow."))
    base = build_factory(fake_openai.base_url).document.to_dict()
    tts_config = {
        "provider": "deepgram",
        "model": "aura-2-thalia-en",
        "fallbacks": [base["tts_config"]],
    }
    raw = {**base, "tts_config": tts_config}
    factory = AgentFactory(
        document=parse_document(raw),
        keys=ProviderKeys(openai="sk-test", deepgram="dg-test"),
        text_only=True,
    )
    agent = factory.build_agent(blueprint=blueprint_for(factory), publisher=MemoryTurnPublisher())
    assert isinstance(agent.tts, tts.FallbackAdapter)
    session = factory.build_session()
    sink = NullAudioOutput()
    session.output.audio = sink
    async with http_context.open():  # what the job runtime gives the Deepgram plugin
        await session.start(agent)
        try:
            await session.run(user_input="Good morning.")
            await agent.turns.flush()
        finally:
            await session.aclose()
            await factory.aclose()
    spoken = "".join(r["input"] for r in fake_openai.speech_requests)
    assert spoken.strip() == "May I see your passport?"
    assert all(r["instructions"] == "Stern, slow." for r in fake_openai.speech_requests)
    assert sink.frames > 0


async def test_stt_fallback_chain_is_built_in_order(fake_openai):
    from livekit.agents import stt
    from livekit.plugins import deepgram, openai

    raw = build_factory(fake_openai.base_url).document.to_dict()
    raw["stt_config"] = {
        "provider": "deepgram",
        "model": "nova-3",
        "fallbacks": [{"provider": "openai", "model": "gpt-4o-mini-transcribe"}],
    }
    factory = AgentFactory(
        document=parse_document(raw),
        keys=ProviderKeys(
            openai="sk-test", deepgram="dg-test", openai_base_url=fake_openai.base_url
        ),
    )
    engine = factory.build_stt()
    assert isinstance(engine, stt.FallbackAdapter)
    primary, backup = engine._stt_instances
    assert isinstance(primary, deepgram.STT)
    assert isinstance(backup.wrapped_stt, openai.STT)  # batch STT streamed on the session's VAD
    await factory.aclose()


async def test_first_token_timeout_speaks_the_fallback_line(fake_openai):
    fake_openai.add(Reply(demo_turn("Too late."), token_delay=1.5))
    base = build_factory(fake_openai.base_url).document.to_dict()
    factory = build_factory(
        fake_openai.base_url,
        llm_config={**base["llm_config"], "first_token_timeout_seconds": 0.3},
    )
    agent = factory.build_agent(blueprint=blueprint_for(factory), publisher=MemoryTurnPublisher())
    session = factory.build_session()
    await session.start(agent)
    try:
        await session.run(user_input="Good morning.")
        await agent.turns.flush()
    finally:
        await session.aclose()
        await factory.aclose()
    [record] = agent.turns.records
    assert record.spoken_text == factory.document.pipeline_config.fallback_line
    assert any("no first token within 0.3 s" in error for error in record.errors)
