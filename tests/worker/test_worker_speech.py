"""When and how a turn is spoken, on the real livekit-agents session: the speech segment ends
when the spoken string closes (not when the JSON ends), voice instructions reach both a
non-streaming TTS (the real OpenAI plugin behind livekit's sentence tokenizer) and a streaming
one (options fixed when its stream opens) with either timing, and cut-off JSON never speaks a
cut-off word."""

from __future__ import annotations

import json

import pytest

from agents_config.contracts import parse_document
from tests.fakes.openai_server import Reply
from tests.fakes.streaming_tts import FakeStreamingTTS
from tests.worker.conftest import blueprint_for, build_factory, demo_turn
from worker.agent import DynamicAgent, WordGate
from worker.audio import NullAudioOutput
from worker.publisher import MemoryTurnPublisher

LONG_NOTES = "The applicant's story holds together; probe the sponsor's income next. " * 6


def with_timing(factory, timing: str):
    raw = factory.document.to_dict()
    raw["tts_config"]["instructions_timing"] = timing
    factory.document = parse_document(raw)
    return factory


def reply(spoken: str, instructions: str, *, timing: str = "this_turn", **fields) -> str:
    """A structured reply in the order the schema asks for with ``timing``."""
    turn = json.loads(demo_turn(spoken, voice_instructions=instructions, **fields))
    if timing == "next_turn":
        order = ["system_response", "voice_instructions"]
        turn = {**{key: turn[key] for key in order}, **turn}
    return json.dumps(turn)


async def run_turns(factory, user_inputs, *, streaming_tts: FakeStreamingTTS | None = None):
    publisher = MemoryTurnPublisher()
    blueprint = blueprint_for(factory)
    if streaming_tts is None:
        agent = factory.build_agent(blueprint=blueprint, publisher=publisher)
    else:
        agent = DynamicAgent(
            blueprint=blueprint, publisher=publisher, llm=factory.build_llm(), tts=streaming_tts
        )
    session = factory.build_session()
    session.output.audio = NullAudioOutput()
    await session.start(agent)
    try:
        for text in user_inputs:
            await session.run(user_input=text)
        await agent.turns.flush()
    finally:
        await session.aclose()
        await factory.aclose()
    return agent


async def test_tts_gets_the_sentence_when_the_spoken_string_closes(fake_openai):
    """One sentence, then long hidden notes: the TTS request goes out before the LLM is done."""
    fake_openai.add(
        Reply(
            demo_turn("May I see your passport?", internal_assessment=LONG_NOTES), token_delay=0.01
        )
    )
    agent = await run_turns(build_factory(fake_openai.base_url), ["Good morning."])
    [request] = fake_openai.speech_requests
    assert request["input"].strip() == "May I see your passport?"
    [done] = fake_openai.chat_done_times
    assert fake_openai.speech_times[0] < done - 0.5  # ~100 tokens of notes were still to come
    [record] = agent.turns.records
    assert record.data["internal_assessment"] == LONG_NOTES  # the rest still fed the turn
    assert record.errors == []


async def test_streaming_tts_gets_the_whole_speech_before_the_llm_ends(fake_openai):
    fake_openai.add(
        Reply(
            demo_turn("May I see your passport?", internal_assessment=LONG_NOTES), token_delay=0.01
        )
    )
    engine = FakeStreamingTTS()
    await run_turns(build_factory(fake_openai.base_url), ["Hello."], streaming_tts=engine)
    [stream] = engine.streams
    assert stream.text.strip() == "May I see your passport?"
    assert stream.texts[-1][0] < fake_openai.chat_done_times[0] - 0.5


@pytest.mark.parametrize("streaming", [False, True], ids=["sentence-tokenizer", "streaming"])
async def test_this_turn_instructions_shape_this_turns_audio(fake_openai, streaming):
    fake_openai.add(
        reply("May I see your passport?", "Stern, slow."),
        reply("Thank you. Where will you study?", "Warm, brisk."),
    )
    engine = FakeStreamingTTS() if streaming else None
    await run_turns(build_factory(fake_openai.base_url), ["Hi.", "Here."], streaming_tts=engine)
    if streaming:
        assert [s.instructions for s in engine.streams] == ["Stern, slow.", "Warm, brisk."]
        assert [s.text.strip() for s in engine.streams] == [
            "May I see your passport?",
            "Thank you. Where will you study?",
        ]
    else:
        used = [(r["input"].strip(), r["instructions"]) for r in fake_openai.speech_requests]
        assert used == [
            ("May I see your passport?", "Stern, slow."),
            ("Thank you. Where will you study?", "Warm, brisk."),  # one short sentence
        ]


@pytest.mark.parametrize("streaming", [False, True], ids=["sentence-tokenizer", "streaming"])
async def test_next_turn_instructions_apply_from_the_next_turn(fake_openai, streaming):
    factory = with_timing(build_factory(fake_openai.base_url), "next_turn")
    schema = factory.document.compiled_schema()
    assert schema.property_order[:2] == ("system_response", "voice_instructions")
    fake_openai.add(
        reply("May I see your passport?", "Stern, slow.", timing="next_turn"),
        reply("Where will you study?", "Warm, brisk.", timing="next_turn"),
    )
    engine = FakeStreamingTTS() if streaming else None
    agent = await run_turns(factory, ["Hi.", "Here."], streaming_tts=engine)
    default = factory.document.tts_config.default_instructions
    if streaming:
        used = [s.instructions for s in engine.streams]
    else:
        used = [r["instructions"] for r in fake_openai.speech_requests]
    assert used == [default, "Stern, slow."]
    request = fake_openai.chat_requests[0]
    sent = request["response_format"]["json_schema"]["schema"]["properties"]
    # The spoken field goes under its short wire key, its meaning in the description.
    assert list(sent)[:2] == ["say", "voice_instructions"]
    assert "'system_response'" in sent["say"]["description"]
    assert [r.data["voice_instructions"] for r in agent.turns.records] == [
        "Stern, slow.",
        "Warm, brisk.",
    ]


@pytest.mark.parametrize("streaming", [False, True], ids=["sentence-tokenizer", "streaming"])
async def test_truncated_json_does_not_speak_a_cut_off_word(fake_openai, streaming):
    fake_openai.add('{"voice_instructions": "Calm.", "system_response": "Your passport, ple')
    engine = FakeStreamingTTS() if streaming else None
    agent = await run_turns(build_factory(fake_openai.base_url), ["Hi."], streaming_tts=engine)
    if streaming:
        spoken = "".join(s.text for s in engine.streams)
    else:
        spoken = "".join(r["input"] for r in fake_openai.speech_requests)
    assert spoken.strip() == "Your passport,"
    [record] = agent.turns.records
    assert any("invalid JSON" in e for e in record.errors)


async def test_turn_records_livekits_latency_metrics():
    """End of speech -> first audio and the user message's delays land on the record."""
    from worker.turns import TurnTracker

    factory = build_factory("http://127.0.0.1:9/v1")
    tracker = TurnTracker(
        schema=factory.document.compiled_schema(),
        version="1.0.0",
        custom_nodes=[],
        publisher=MemoryTurnPublisher(),
    )
    turn = tracker.begin(
        user_text="Hi", user_metrics={"end_of_turn_delay": 0.512, "transcription_delay": 0.2}
    )
    turn.mark_spoken()
    turn.spoken_flushed_at = turn.first_spoken_at
    record = tracker.finish(turn, tts_ttfb_s=0.05, e2e_latency_s=0.9876)
    await tracker.flush()
    assert record.e2e_latency_ms == 987.6
    assert record.end_of_turn_delay_ms == 512.0
    assert record.transcription_delay_ms == 200.0
    assert record.spoken_complete_ms == record.first_spoken_ms


def test_word_gate_holds_the_word_being_written():
    gate = WordGate()
    assert gate.push("Your pass") == "Your "
    assert gate.push("port, ple") == "passport, "
    assert gate.release() == "ple"
    assert gate.push("x" * 60) == "x" * 60  # no spaces at all (e.g. Japanese): not held
