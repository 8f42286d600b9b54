"""A session's life on the real livekit-agents session (text mode): the greeting is turn 0,
the worker ends the session at its time limit with the closing line, asks once after a
silence and then ends, and whatever closes the session reports the reason once."""

from __future__ import annotations

import asyncio

import pytest

from tests.worker.conftest import blueprint_for, build_factory, demo_turn
from worker.lifecycle import MAX_DURATION_REASON, SILENCE_REASON, SessionLifecycle
from worker.publisher import MemoryTurnPublisher


def factory_with(base_url, *, prompt=None, pipeline=None):
    factory = build_factory(base_url)
    raw = factory.document.to_dict()
    raw["prompt_config"].update(prompt or {})
    raw["pipeline_config"].update(pipeline or {})
    return build_factory(
        base_url, prompt_config=raw["prompt_config"], pipeline_config=raw["pipeline_config"]
    )


async def run_lifecycle(factory, **options):
    publisher = MemoryTurnPublisher()
    agent = factory.build_agent(blueprint=blueprint_for(factory), publisher=publisher)
    session = factory.build_session()
    ended: list[str] = []
    lifecycle = SessionLifecycle(session=session, agent=agent, on_end=ended.append, **options)
    await session.start(agent)
    lifecycle.start()
    return session, agent, publisher, lifecycle, ended


async def wait_for(predicate, seconds=10.0):
    """Poll a condition on livekit's state (it offers no event for every one of them)."""
    async with asyncio.timeout(seconds):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_fixed_greeting_is_spoken_and_recorded_as_turn_zero(fake_openai):
    fake_openai.add(demo_turn("May I see your passport?"))
    factory = factory_with(fake_openai.base_url, prompt={"first_message": "Welcome. Sit down."})
    session, agent, publisher, _, _ = await run_lifecycle(factory)
    try:
        await wait_for(lambda: agent.turns.records)
        await session.run(user_input="Good morning.")
        await agent.turns.flush()
    finally:
        await session.aclose()
    greeting, first = agent.turns.records
    assert (greeting.index, greeting.spoken_text, greeting.user_text) == (
        0,
        "Welcome. Sit down.",
        "",
    )
    assert first.index == 1
    assert [m["turn"] for m in publisher.messages] == [0, 1]
    history = fake_openai.chat_requests[0]["messages"]
    assert any(
        "Welcome. Sit down." in str(m["content"]) for m in history if m["role"] == "assistant"
    )


async def test_generated_greeting_is_a_structured_turn_zero(fake_openai):
    fake_openai.add(demo_turn("Good morning. Your passport, please."))
    factory = factory_with(fake_openai.base_url, prompt={"first_message": {"mode": "generate"}})
    session, agent, publisher, _, _ = await run_lifecycle(factory)
    try:
        await wait_for(lambda: agent.turns.records)
        await agent.turns.flush()
    finally:
        await session.aclose()
    [greeting] = agent.turns.records
    assert greeting.index == 0
    assert greeting.spoken_text == "Good morning. Your passport, please."
    assert greeting.data["internal_assessment"] == "secret notes"
    assert publisher.messages[0]["turn"] == 0


async def test_time_limit_speaks_the_closing_line_and_ends_with_its_reason(fake_openai):
    factory = factory_with(fake_openai.base_url, pipeline={"closing_line": "Time is up. Goodbye."})
    session, _, _, lifecycle, ended = await run_lifecycle(factory, time_limit_seconds=0.3)
    said: list[str] = []
    session.on(
        "conversation_item_added",
        lambda ev: said.append(ev.item.text_content) if ev.item.role == "assistant" else None,
    )
    try:
        await asyncio.wait_for(lifecycle.ended.wait(), 10)
    finally:
        await session.aclose()
    assert said == ["Time is up. Goodbye."]
    assert ended == [MAX_DURATION_REASON]


async def test_silence_asks_once_then_ends(fake_openai):
    factory = factory_with(
        fake_openai.base_url,
        pipeline={"silence_timeout_seconds": 1, "silence_prompt": "Are you still with me?"},
    )
    assert factory.session_options()["user_away_timeout"] == 1
    session, _, _, lifecycle, ended = await run_lifecycle(factory)
    said: list[str] = []
    session.on(
        "conversation_item_added",
        lambda ev: said.append(ev.item.text_content) if ev.item.role == "assistant" else None,
    )
    try:
        await asyncio.wait_for(lifecycle.ended.wait(), 15)
    finally:
        await session.aclose()
    assert said == ["Are you still with me?"]
    assert ended == [SILENCE_REASON]


async def test_an_end_call_closes_the_session_and_reports_the_reason_once(fake_openai):
    factory = factory_with(fake_openai.base_url)
    session, _, _, lifecycle, ended = await run_lifecycle(factory)
    try:
        await lifecycle.end("the caller hung up")
        await asyncio.wait_for(lifecycle.ended.wait(), 10)
    finally:
        await session.aclose()
    assert ended == ["the caller hung up"]


async def test_closing_the_session_otherwise_reports_livekits_reason(fake_openai):
    factory = factory_with(fake_openai.base_url)
    session, _, _, lifecycle, ended = await run_lifecycle(factory)
    await session.aclose()
    await asyncio.wait_for(lifecycle.ended.wait(), 10)
    assert len(ended) == 1 and ended[0]


@pytest.mark.parametrize("value", [0, 0.5])
def test_silence_timeout_is_validated(value):
    from agents_config.contracts import ContractError, parse_document

    raw = build_factory("http://127.0.0.1:9/v1").document.to_dict()
    raw["pipeline_config"]["silence_timeout_seconds"] = value
    with pytest.raises(ContractError):
        parse_document(raw)


@pytest.mark.django_db(transaction=True)
async def test_greeting_is_stored_as_turn_zero(fake_openai, settings):
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

    settings.LIVEKIT_URL = ""
    db_session = await sync_to_async(setup)()
    fake_openai.add(demo_turn("Passport, please."))
    factory = factory_with(fake_openai.base_url, prompt={"first_message": "Welcome."})
    agent = factory.build_agent(
        blueprint=blueprint_for(factory),
        publisher=MemoryTurnPublisher(),
        store=SessionTurnStore(str(db_session.id)),
    )
    session = factory.build_session()
    await session.start(agent)
    SessionLifecycle(session=session, agent=agent).start()
    try:
        await wait_for(lambda: agent.turns.records)
        await session.run(user_input="Hello.")
        await agent.turns.flush()
    finally:
        await session.aclose()
        await close_connections()
    stored = [(t.index, t.spoken_text) async for t in Turn.objects.filter(session=db_session)]
    assert stored == [(0, "Welcome."), (1, "Passport, please.")]
