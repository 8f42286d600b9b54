"""Turns carry what the user actually heard, on the real livekit-agents session: a barge-in
cuts the stored turn, the published message and the LLM's next context to the heard text
(and tells the LLM it was interrupted); a reply never heard leaves no trace at all."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.fakes.openai_server import Reply
from tests.worker.conftest import blueprint_for, build_factory, demo_turn
from worker.publisher import MemoryTurnPublisher
from worker.turns import TurnTracker

LONG_REPLY = (
    "Thank you for coming today. I will need to see your passport, your admission letter, "
    "your bank statements for the last six months and your sponsor's letter of support."
)


async def start(factory, *, store=None):
    publisher = MemoryTurnPublisher()
    agent = factory.build_agent(blueprint=blueprint_for(factory), publisher=publisher, store=store)
    session = factory.build_session()
    await session.start(agent)
    return session, agent, publisher


async def interrupt_after(session, agent, seconds: float) -> None:
    """Let the reply stream for ``seconds``, then barge in (as the user speaking would)."""
    handle = session.generate_reply(user_input="Good morning.")
    await asyncio.sleep(seconds)
    await session.interrupt()
    await handle
    await agent.turns.flush()


async def barge_in(fake_openai, store=None):
    fake_openai.add(Reply(demo_turn(LONG_REPLY), token_delay=0.03), demo_turn("Go on."))
    session, agent, publisher = await start(build_factory(fake_openai.base_url), store=store)
    return session, agent, publisher


async def test_barge_in_records_publishes_and_shows_the_llm_only_what_was_heard(fake_openai):
    session, agent, publisher = await barge_in(fake_openai)
    try:
        await interrupt_after(session, agent, 1.2)
        [record] = agent.turns.records
        heard = record.spoken_text
        assert record.interrupted is True
        assert heard.strip() and len(heard) < len(LONG_REPLY)
        assert LONG_REPLY.startswith(heard.strip())
        assert record.data["system_response"] == heard
        [message] = publisher.messages
        assert message["interrupted"] is True
        assert message["spoken_text"] == heard
        assert message["data"]["system_response"] == heard

        await session.run(user_input="Sorry, go on.")
    finally:
        await session.aclose()
    shown = [m for m in fake_openai.chat_requests[1]["messages"] if m["role"] == "assistant"]
    earlier = json.loads(shown[-1]["content"])
    assert earlier["interrupted"] is True
    assert earlier["say"] == heard  # the wire key the schema sent to the LLM asks for
    assert "system_response" not in earlier
    assert earlier["voice_instructions"] == "Calm and formal."  # fields written before it stay
    assert earlier.get("internal_assessment") is None  # never generated: cut by the barge-in
    assert LONG_REPLY not in json.dumps(fake_openai.chat_requests[1])


async def test_reply_interrupted_before_anything_was_heard_leaves_no_turn(fake_openai):
    fake_openai.add(Reply(demo_turn(LONG_REPLY, voice_instructions="x" * 200), token_delay=0.05))
    session, agent, publisher = await start(build_factory(fake_openai.base_url))
    try:
        await interrupt_after(session, agent, 0.3)  # still inside the voice instructions
    finally:
        await session.aclose()
    await agent.turns.flush()
    assert agent.turns.records == []
    assert publisher.messages == []
    assert agent.turns.dropped == 1


async def test_discarded_speculative_reply_is_never_recorded():
    """Preemptive generation: a speculative turn superseded by the real one leaves nothing."""
    factory = build_factory("http://127.0.0.1:9/v1")
    publisher = MemoryTurnPublisher()
    tracker = TurnTracker(
        schema=factory.document.compiled_schema(),
        version="1.0.0",
        custom_nodes=[],
        publisher=publisher,
    )
    speculative = tracker.begin(user_text="I would like")
    speculative.spoken_text, speculative.llm_done = "Like what?", True
    spoken = tracker.begin(user_text="I would like a visa")
    spoken.spoken_text, spoken.llm_done = "Which visa?", True
    assert tracker.spoken_turn("Which visa?") is spoken
    record = tracker.finish(spoken)
    await tracker.aclose()
    assert record.index == 1 and record.user_text == "I would like a visa"
    assert [m["spoken_text"] for m in publisher.messages] == ["Which visa?"]
    assert tracker.dropped == 1


def test_preemptive_generation_is_on_by_default_and_configurable():
    factory = build_factory("http://127.0.0.1:9/v1")
    assert factory.session_options()["turn_handling"]["preemptive_generation"] == {"enabled": True}
    off = build_factory(
        "http://127.0.0.1:9/v1",
        pipeline_config={
            **factory.document.pipeline_config.model_dump(),
            "preemptive_generation": False,
        },
    )
    assert off.session_options()["turn_handling"]["preemptive_generation"] == {"enabled": False}


@pytest.mark.django_db(transaction=True)
async def test_barge_in_stores_the_heard_text(fake_openai, settings):
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
    session, agent, _ = await barge_in(fake_openai, store=SessionTurnStore(str(db_session.id)))
    try:
        await interrupt_after(session, agent, 1.2)
    finally:
        await session.aclose()
        await close_connections()
    turn = await Turn.objects.aget(session_id=db_session.id)
    assert turn.spoken_text == agent.turns.records[0].spoken_text
    assert len(turn.spoken_text) < len(LONG_REPLY)
    assert turn.structured_output["system_response"] == turn.spoken_text
    assert turn.interrupted is True

    def shown_elsewhere():
        from sessions_app.models import Session
        from sessions_app.reports import build_report
        from sessions_app.serializers import TurnSerializer

        row = Session.objects.get(pk=db_session.pk)
        return build_report(row)["turns"], TurnSerializer(row.turns.all(), many=True).data

    report_turns, api_turns = await sync_to_async(shown_elsewhere)()
    assert [t["interrupted"] for t in report_turns] == [True]
    assert [t["interrupted"] for t in api_turns] == [True]
