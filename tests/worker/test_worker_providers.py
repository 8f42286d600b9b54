"""The providers the design names, each built by the factory and run through its REAL plugin
against a local fake speaking that provider's wire format: Anthropic (Messages API SSE),
the OpenAI-compatible presets (together, groq, openrouter) and Cartesia TTS (websocket)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from livekit.agents.utils import http_context

from agents_config import contracts
from agents_config.contracts import ContractError, parse_document
from agents_config.factories import agent_document
from agents_config.providers import ProviderConfigError, ProviderKeys
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.cartesia_server import FakeCartesia
from tests.worker.conftest import blueprint_for, demo_turn
from worker.audio import NullAudioOutput
from worker.factory import AgentFactory
from worker.publisher import MemoryTurnPublisher
from worker.textmode import TextConversation

CARTESIA_VOICE = "a0e99841-438c-4a64-b679-ae501e7d6091"


@pytest.fixture
def fake_anthropic():
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
async def fake_cartesia():
    # aiohttp-based plugins take their HTTP session from the job context; open one as the
    # worker's job does.
    with FakeCartesia() as server:
        async with http_context.open():
            yield server


def anthropic_document(**llm):
    raw = agent_document()
    raw["llm_config"] = {"provider": "anthropic", "model": "claude-haiku-4-5", **llm}
    return parse_document(raw)


# --- Anthropic --------------------------------------------------------------------------------


def test_anthropic_contract_defaults_to_the_prompt_fallback():
    document = anthropic_document()
    assert document.llm_config.supports_structured_output is False
    with pytest.raises(ContractError) as info:
        anthropic_document(supports_structured_output=True)
    assert "llm_config.supports_structured_output" in info.value.errors
    with pytest.raises(ContractError) as info:
        anthropic_document(base_url="http://127.0.0.1:9/v1")
    assert "llm_config.base_url" in info.value.errors
    with pytest.raises(ContractError) as info:
        anthropic_document(options={"top_k": 0, "colour": "red"})
    assert {"llm_config.options.top_k", "llm_config.options.colour"} <= set(info.value.errors)


async def test_anthropic_text_mode_turn_uses_the_prompt_fallback(fake_anthropic):
    fake_anthropic.add(demo_turn("Good morning. Your passport, please.", credibility_score=7))
    document = anthropic_document(max_tokens=300, options={"top_k": 40})
    keys = ProviderKeys(
        openai="sk-test", anthropic="sk-ant-test", anthropic_base_url=fake_anthropic.base_url
    )
    async with TextConversation(document=document, version="1.0.0", keys=keys) as chat:
        record = await chat.say("Good morning, officer.")
        await chat.flush()

    assert record is not None
    assert record.spoken_text == "Good morning. Your passport, please."
    assert record.errors == []
    assert record.data["credibility_score"] == 7
    [request] = fake_anthropic.requests
    assert request["model"] == "claude-haiku-4-5"
    assert request["stream"] is True
    assert request["max_tokens"] == 300
    assert request["top_k"] == 40
    assert "response_format" not in request
    # The instructions go to Anthropic's top-level ``system``; the per-turn schema request
    # (a trailing system message) is moved into the last user turn by livekit-agents, since
    # Anthropic takes a single system text.
    system = " ".join(block["text"] for block in request["system"])
    assert "consular officer" in system
    last = request["messages"][-1]
    assert last["role"] == "user"
    last_text = " ".join(part.get("text", "") for part in last["content"])
    assert "JSON Schema" in last_text and "in the 'say' field" in last_text
    assert "Good morning, officer." in json.dumps(request["messages"])
    assert fake_anthropic.headers[0]["x-api-key"] == "sk-ant-test"


def test_anthropic_needs_its_own_key():
    factory = AgentFactory(
        document=anthropic_document(), keys=ProviderKeys(openai="sk-test"), text_only=True
    )
    with pytest.raises(ProviderConfigError, match="ANTHROPIC_API_KEY"):
        factory.build_llm()


# --- OpenAI-compatible presets ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "endpoint"),
    [
        ("together", "https://api.together.xyz/v1"),
        ("groq", "https://api.groq.com/openai/v1"),
        ("openrouter", "https://openrouter.ai/api/v1"),
    ],
)
def test_presets_set_only_endpoint_and_key(provider, endpoint):
    raw = agent_document()
    raw["llm_config"] = {"provider": provider}
    document = parse_document(raw)
    assert document.llm_config.model == contracts.LLM_PROVIDERS[provider].default_model
    keys = ProviderKeys(openai="sk-openai", **{provider: f"{provider}-key"})
    llm = AgentFactory(document=document, keys=keys, text_only=True).build_llm()
    assert str(llm._client.base_url).rstrip("/") == endpoint
    assert llm._client.api_key == f"{provider}-key"  # never the OpenAI key

    with pytest.raises(ProviderConfigError, match=f"no {provider} API key"):
        AgentFactory(
            document=document, keys=ProviderKeys(openai="sk-openai"), text_only=True
        ).build_llm()
    raw["llm_config"]["base_url"] = "http://127.0.0.1:9/v1"
    with pytest.raises(ContractError) as info:
        parse_document(raw)
    assert "llm_config.base_url" in info.value.errors


@pytest.mark.parametrize("provider", ["together", "groq", "openrouter"])
async def test_preset_runs_a_turn_on_the_openai_wire(provider, fake_openai, monkeypatch):
    # The preset's endpoint is the only thing that differs: point it at the fake.
    spec = dataclasses.replace(contracts.LLM_PROVIDERS[provider], base_url=fake_openai.base_url)
    monkeypatch.setitem(contracts.LLM_PROVIDERS, provider, spec)
    fake_openai.add(demo_turn("Hello from the preset."))
    raw = agent_document()
    raw["llm_config"] = {"provider": provider, "options": {"top_p": 0.9}}
    keys = ProviderKeys(openai="sk-test", **{provider: "preset-key"})
    async with TextConversation(document=parse_document(raw), version="1.0.0", keys=keys) as chat:
        record = await chat.say("Hi")
    assert record is not None and record.spoken_text == "Hello from the preset."
    [request] = fake_openai.chat_requests
    assert request["model"] == spec.default_model
    assert request["top_p"] == 0.9
    assert request["response_format"]["type"] == "json_schema"


# --- Cartesia ---------------------------------------------------------------------------------


def cartesia_factory(openai_url: str, cartesia_url: str, **tts) -> AgentFactory:
    raw = agent_document()
    raw["llm_config"] = {**raw["llm_config"], "base_url": openai_url}
    raw["tts_config"] = {"provider": "cartesia", "voice": CARTESIA_VOICE, **tts}
    document = parse_document(raw)
    keys = ProviderKeys(openai="sk-test", cartesia="cartesia-key", cartesia_base_url=cartesia_url)
    return AgentFactory(document=document, keys=keys, text_only=True)


def test_cartesia_contract():
    raw = agent_document()
    raw["tts_config"] = {"provider": "cartesia"}
    document = parse_document(raw)
    assert document.tts_config.model == "sonic-3"
    assert contracts.CARTESIA_VOICE_ID.match(document.tts_config.voice)
    # The demo's instruction field is kept, with a warning: Cartesia takes no instructions.
    assert any(w.field == "tts_config.instruction_field" for w in document.warnings())
    raw["tts_config"] = {"provider": "cartesia", "voice": "ash", "options": {"speed": 9}}
    with pytest.raises(ContractError) as info:
        parse_document(raw)
    assert {"tts_config.voice", "tts_config.options.speed"} <= set(info.value.errors)


async def test_cartesia_speaks_the_spoken_field_over_its_websocket(fake_openai, fake_cartesia):
    fake_openai.add(demo_turn("May I see your passport? And your letter."))
    factory = cartesia_factory(
        fake_openai.base_url, fake_cartesia.base_url, options={"speed": 1.1, "emotion": "calm"}
    )
    publisher = MemoryTurnPublisher()
    agent = factory.build_agent(blueprint=blueprint_for(factory), publisher=publisher)
    session = factory.build_session()
    sink = NullAudioOutput()
    session.output.audio = sink
    await session.start(agent)
    try:
        result = await session.run(user_input="Good morning.")
        await result
        await agent.turns.flush()
    finally:
        await session.aclose()

    assert fake_cartesia.ws_connections >= 1
    assert fake_cartesia.ws_headers[0]["X-API-Key"] == "cartesia-key"
    requests = [m for m in fake_cartesia.ws_messages if m.get("transcript", "").strip()]
    spoken = "".join(m["transcript"] for m in requests)
    assert " ".join(spoken.split()) == "May I see your passport? And your letter."
    first = requests[0]
    assert first["model_id"] == "sonic-3"
    assert first["voice"] == {"mode": "id", "id": CARTESIA_VOICE}
    assert first["output_format"]["encoding"] == "pcm_s16le"
    assert first["generation_config"] == {"speed": 1.1, "emotion": "calm"}
    assert fake_cartesia.ws_messages[-1]["continue"] is False
    assert sink.frames > 0
    # Only the spoken field reached the voice; the structured turn was still published whole.
    assert "internal_assessment" not in json.dumps(fake_cartesia.ws_messages)
    [message] = publisher.messages
    assert message["data"]["system_response"] == "May I see your passport? And your letter."


async def test_cartesia_one_shot_uses_the_bytes_endpoint(fake_cartesia):
    tts = cartesia_factory("http://127.0.0.1:9/v1", fake_cartesia.base_url).build_tts()
    try:
        frames = [event.frame async for event in tts.synthesize("Hello there.")]
    finally:
        await tts.aclose()
    assert sum(frame.samples_per_channel for frame in frames) > 0
    [request] = fake_cartesia.bytes_requests
    assert request["transcript"] == "Hello there."
    assert request["voice"]["id"] == CARTESIA_VOICE


def test_cartesia_needs_its_own_key():
    raw = agent_document()
    raw["tts_config"] = {"provider": "cartesia"}
    factory = AgentFactory(
        document=parse_document(raw), keys=ProviderKeys(openai="sk-test"), text_only=True
    )
    with pytest.raises(ProviderConfigError, match="CARTESIA_API_KEY"):
        factory.build_tts()
