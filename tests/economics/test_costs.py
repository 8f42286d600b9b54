"""Cost per session: usage from livekit-agents' metrics, priced by the one cost formula."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from sessions_app import billing
from sessions_app.models import ModelPrice, Session, Turn
from tests.economics.conftest import set_known_prices
from tests.fakes.openai_server import Reply
from tests.worker.conftest import build_factory, demo_turn
from worker.usage import UsageMeter

USAGE = {
    "llm": {
        "openai:gpt-4o-mini": {
            "prompt_tokens": 1000,
            "cached_tokens": 400,
            "completion_tokens": 200,
        }
    },
    "tts": {"openai:tts-1": {"characters": 1000}},
    "stt": {"deepgram:nova-3": {"audio_seconds": 30}},
}


def test_the_cost_formula():
    prices = {
        ("openai", "gpt-4o-mini", "prompt_tokens"): Decimal("1.00"),
        ("openai", "gpt-4o-mini", "cached_tokens"): Decimal("0.50"),
        ("openai", "gpt-4o-mini", "completion_tokens"): Decimal("4.00"),
        ("openai", "*", "tts_characters"): Decimal("15.00"),
        ("deepgram", "*", "stt_seconds"): Decimal("100.00"),
        ("platform", "*", "session_minutes"): Decimal("1000"),
    }
    # (600·1 + 400·0.5 + 200·4 + 1000·15 + 30·100 + 2·1000) / 1e6
    expected = Decimal(600 + 200 + 800 + 15000 + 3000 + 2000) / Decimal(1_000_000)
    assert billing.usage_cost(USAGE, prices=prices, session_minutes=2) == expected
    assert billing.usage_cost({}, prices=prices) == 0
    unknown = {"llm": {"acme:model-x": {"prompt_tokens": 10**6}}}
    assert billing.usage_cost(unknown, prices=prices) == 0  # unpriced: free, not a crash


def test_price_table_follows_effective_dates_and_tenant_overrides(tenant, other_tenant):
    ModelPrice.objects.all().delete()

    def price(value, since, owner=None):
        ModelPrice.objects.create(
            tenant=owner,
            provider="openai",
            model="gpt-4o-mini",
            metric="prompt_tokens",
            usd_per_million=Decimal(value),
            effective_from=since,
        )

    price("1", dt.date(2025, 1, 1))
    price("2", dt.date(2025, 6, 1))
    price("0.5", dt.date(2025, 3, 1), owner=tenant)
    key = ("openai", "gpt-4o-mini", "prompt_tokens")
    assert billing.price_table(tenant_id=other_tenant.pk, on=dt.date(2025, 5, 31))[key] == 1
    assert billing.price_table(tenant_id=other_tenant.pk, on=dt.date(2025, 6, 1))[key] == 2
    assert billing.price_table(tenant_id=tenant.pk, on=dt.date(2025, 7, 1))[key] == Decimal("0.5")
    assert key not in billing.price_table(tenant_id=tenant.pk, on=dt.date(2024, 12, 31))


def test_default_prices_are_loaded_by_a_data_migration():
    import importlib

    migration = importlib.import_module("sessions_app.migrations.0013_default_prices")
    providers = {(p, metric) for p, _, metric, _ in migration.DEFAULT_PRICES}
    assert {("openai", "prompt_tokens"), ("deepgram", "stt_seconds")} <= providers


@pytest.mark.django_db(transaction=True)
async def test_text_mode_session_usage_and_cost_from_known_token_counts(fake_openai, settings):
    """The real OpenAI plugin reads the stream's usage chunk; each stored turn gets it."""
    from agents_config.factories import make_agent
    from agents_config.services import agent_publish
    from sessions_app.reports import session_report_store
    from sessions_app.services import session_create, session_end
    from tenants.factories import TenantFactory
    from worker.store import SessionTurnStore, close_connections
    from worker.textmode import TextConversation

    def setup():
        set_known_prices()
        tenant = TenantFactory()
        agent = make_agent(tenant=tenant)
        agent_publish(agent=agent, version="1.0.0")
        return session_create(tenant=tenant, agent_id=agent.agent_id, user_id="u1")

    settings.LIVEKIT_URL = ""
    db_session = await sync_to_async(setup)()
    fake_openai.add(
        Reply(
            demo_turn("Passport, please."),
            prompt_tokens=1200,
            cached_tokens=200,
            completion_tokens=50,
        ),
        Reply(
            demo_turn("Thank you."), prompt_tokens=1500, cached_tokens=1000, completion_tokens=30
        ),
    )
    factory = build_factory(fake_openai.base_url)
    store = SessionTurnStore(str(db_session.id))
    try:
        async with TextConversation(
            document=factory.document, version="1.0.0", keys=factory.keys, store=store
        ) as chat:
            assert isinstance(store.meter, UsageMeter)
            await chat.say("Good morning.")
            await chat.say("Here it is.")
            await chat.flush()
    finally:
        await close_connections()
    assert fake_openai.chat_requests[0]["stream_options"] == {"include_usage": True}

    turns = [t async for t in Turn.objects.filter(session_id=db_session.id).order_by("index")]
    assert [t.usage["llm"]["openai:gpt-4o-mini"] for t in turns] == [
        {"prompt_tokens": 1200, "cached_tokens": 200, "completion_tokens": 50},
        {"prompt_tokens": 1500, "cached_tokens": 1000, "completion_tokens": 30},
    ]
    # turn 1: (1000·1 + 200·0.5 + 50·4)/1e6; turn 2: (500·1 + 1000·0.5 + 30·4)/1e6
    assert [t.cost_usd for t in turns] == [Decimal("0.001300"), Decimal("0.001120")]

    def finish():
        session = Session.objects.get(pk=db_session.id)
        session_end(session=session, reason="done")
        return session_report_store(session=Session.objects.get(pk=db_session.id)).document

    report = await sync_to_async(finish)()
    await close_connections()
    assert report["cost"]["total"] == "0.002420"
    assert report["cost"]["per_turn"] == [
        {"turn": 1, "total": "0.001300"},
        {"turn": 2, "total": "0.001120"},
    ]
    assert report["usage"]["llm"]["openai:gpt-4o-mini"]["prompt_tokens"] == 2700
    assert report["turns"][0]["usage"]["llm"]["openai:gpt-4o-mini"]["completion_tokens"] == 50
    stored = await Session.objects.aget(pk=db_session.id)
    assert stored.cost_usd == Decimal("0.002420")


def test_metrics_events_become_usage():
    from livekit.agents import metrics

    meter = UsageMeter({"llm": "openai", "tts": "openai", "stt": "deepgram"})
    common = {"request_id": "r", "timestamp": 0.0, "duration": 1.0}
    meter.add(billing.usage_merge({}, None))
    from worker.usage import usage_of

    providers = meter.providers
    meter.add(
        usage_of(
            metrics.TTSMetrics(
                label="livekit.plugins.openai.tts.TTS",
                ttfb=0.1,
                audio_duration=1.0,
                cancelled=False,
                characters_count=42,
                streamed=False,
                metadata=metrics.base.Metadata(model_name="tts-1", model_provider="api.openai.com"),
                **common,
            ),
            providers=providers,
        )
    )
    meter.add(
        usage_of(
            metrics.STTMetrics(
                label="deepgram",
                audio_duration=2.5,
                streamed=True,
                metadata=metrics.base.Metadata(model_name="nova-3"),
                **common,
            ),
            providers=providers,
        )
    )
    assert meter.drain() == {
        "tts": {"openai:tts-1": {"characters": 42}},
        "stt": {"deepgram:nova-3": {"audio_seconds": 2.5}},
    }
    assert meter.drain() == {}
    assert meter.total["tts"]["openai:tts-1"]["characters"] == 42
