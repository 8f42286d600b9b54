"""Budgets enforced before the spend: refusal at creation (race-free), the end of a live
session that crosses its budget, and the once-a-month threshold webhook."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection

from sessions_app import billing, services
from sessions_app.factories import SessionFactory
from sessions_app.models import BudgetAlert, Session, SessionStatus
from tenants.factories import WebhookEndpointFactory
from tenants.models import Tenant, WebhookDelivery
from tests.economics.conftest import make_budget
from worker import store
from worker.turns import TurnRecord

AGENT = "visa-interview-officer"
LLM = "openai:gpt-4o-mini"


def create(tenant, **kwargs):
    kwargs.setdefault("agent_id", AGENT)
    kwargs.setdefault("user_id", "alice")
    return services.session_create(tenant=tenant, **kwargs)


def spent_session(agent, cost: str, *, status=SessionStatus.ENDED) -> Session:
    return SessionFactory(
        tenant=agent.tenant,
        agent=agent,
        agent_version=agent.published_version,
        status=status,
        cost_usd=Decimal(cost),
    )


def record(index: int = 1) -> TurnRecord:
    return TurnRecord(
        index=index,
        version="1.0.0",
        user_text="hi",
        spoken_text="hello",
        data={},
        public_data={},
        errors=[],
        structured=True,
        interrupted=False,
        llm_ttft_ms=None,
        first_spoken_ms=None,
        tts_ttfb_ms=None,
    )


def million_prompt_tokens(count: float) -> dict:
    # known_prices: $1 per million uncached prompt tokens
    return {"llm": {LLM: {"prompt_tokens": int(count * 1_000_000), "cached_tokens": 0}}}


def test_a_spent_budget_refuses_creation_with_402(
    published_agent,
    key_client,
    livekit_server,
    known_prices,
):
    make_budget(published_agent.tenant, "1.00", reserve="0.10")
    spent_session(published_agent, "0.95")
    client = key_client(published_agent.tenant, "admin")
    response = client.post("/api/v1/sessions", {"agent_id": AGENT, "user_id": "bob"}, format="json")
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "budget_exceeded"
    assert error["budget"]["scope"] == "tenant"
    assert error["budget"]["limit_usd"] == "1.000000"
    assert error["budget"]["committed_usd"] == "0.950000"
    assert error["budget"]["reset_at"]
    assert Session.objects.filter(user_id="bob").count() == 0


def test_an_agent_budget_only_limits_its_agent(published_agent, livekit_server, known_prices):
    make_budget(published_agent.tenant, "0.10", agent=published_agent)
    spent_session(published_agent, "0.10")
    with pytest.raises(billing.BudgetExceeded, match="agent visa-interview-officer"):
        create(published_agent.tenant)


def test_open_sessions_hold_their_reservation_until_they_close(
    published_agent, livekit_server, known_prices
):
    make_budget(published_agent.tenant, "0.20", reserve="0.10")
    first = create(published_agent.tenant)
    assert first.reserved_usd == Decimal("0.10")
    create(published_agent.tenant, user_id="bob")
    with pytest.raises(billing.BudgetExceeded):
        create(published_agent.tenant, user_id="carol")
    services.session_end(session=first)  # actual cost 0: its reservation is released
    create(published_agent.tenant, user_id="carol")


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_creations_against_a_nearly_spent_budget(published_agent, livekit_server):
    """$0.48 left and $0.04 held per session: exactly 12 of 50 concurrent creations fit."""
    tenant = published_agent.tenant
    Tenant.objects.filter(pk=tenant.pk).update(max_concurrent_sessions=None)
    make_budget(tenant, "1.00", reserve="0.04")
    spent_session(published_agent, "0.52")
    results: list[str] = []
    barrier = threading.Barrier(50)

    def attempt(index: int) -> None:
        barrier.wait()
        try:
            create(tenant, user_id=f"user-{index}")
            results.append("created")
        except billing.BudgetExceeded:
            results.append("budget_exceeded")
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("created") == 12
    assert results.count("budget_exceeded") == 38
    assert Session.objects.filter(tenant=tenant, reserved_usd=Decimal("0.04")).count() == 12
    budget = billing._budgets_for(tenant.pk, None)[0]
    start = billing._month(tenant)[1]
    assert billing._committed(budget, start) == Decimal("1.00")


@pytest.mark.django_db(transaction=True)
def test_a_live_session_crossing_its_budget_ends_after_the_turn(published_agent, livekit_server):
    """Turns are stored through the worker's store; the one that crosses the budget makes the
    store hand the closing line to the worker (once), which says it and ends the job."""
    from tests.economics.conftest import set_known_prices

    set_known_prices()
    tenant = published_agent.tenant
    make_budget(tenant, "1.00", reserve="0.10", closing_line="Our time is up. Goodbye.")
    session = create(tenant)
    closing: list[str] = []

    class Meter:
        def __init__(self) -> None:
            self.next: dict = {}

        def drain(self) -> dict:
            return self.next

    async def on_budget_spent(line: str) -> None:
        closing.append(line)

    meter = Meter()
    turn_store = store.SessionTurnStore(
        str(session.pk), meter=meter, on_budget_spent=on_budget_spent
    )

    async def talk() -> None:
        meter.next = million_prompt_tokens(0.6)
        await turn_store.save(record(1))
        assert closing == []
        meter.next = million_prompt_tokens(0.5)  # 1.10 > 1.00: crossed
        await turn_store.save(record(2))
        meter.next = million_prompt_tokens(0.1)
        await turn_store.save(record(3))  # a turn still finishing is stored, no 2nd closing
        await store.close_connections()

    asyncio.run(talk())
    assert closing == ["Our time is up. Goodbye."]
    assert Session.objects.get(pk=session.pk).cost_usd == Decimal("1.200000")
    with pytest.raises(billing.BudgetExceeded):
        create(tenant, user_id="bob")


def test_budget_closer_says_the_closing_line_then_ends_the_job():
    from worker.usage import budget_closer

    calls: list[tuple] = []

    class Session:
        def say(self, text, allow_interruptions):
            calls.append(("say", text, allow_interruptions))
            future = asyncio.get_running_loop().create_future()
            future.set_result(None)
            return future

    class Ctx:
        def shutdown(self, reason):
            calls.append(("shutdown", reason))

    asyncio.run(budget_closer(Ctx(), Session())("Goodbye."))
    assert calls == [("say", "Goodbye.", False), ("shutdown", "budget_exceeded")]


def test_threshold_webhook_is_sent_once_a_month(
    published_agent, known_prices, django_capture_on_commit_callbacks, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # keep deliveries queued: count, don't send
    tenant = published_agent.tenant
    WebhookEndpointFactory(tenant=tenant, events=["tenant.budget_threshold"])
    make_budget(tenant, "1.00", threshold_percent=80)
    session = spent_session(published_agent, "0", status=SessionStatus.ACTIVE)
    usage_turns = [0.5, 0.35, 0.1]  # 50 %, 85 % (alert), 95 % (no second alert)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        for millions in usage_turns:
            turn = services.turn_record(
                session=session,
                user_text="",
                spoken_text="",
                structured_output={},
                validation_errors=[],
            )
            billing.turn_usage_add(turn=turn, usage=million_prompt_tokens(millions))
    emit = [c for c in callbacks if getattr(c, "__name__", "") == "emit"]
    assert len(emit) == 1
    emit[0]()
    [delivery] = WebhookDelivery.objects.filter(event="tenant.budget_threshold")
    data = delivery.payload["data"]
    assert data["threshold_percent"] == 80 and data["spent_usd"] == "0.850000"
    assert data["agent_id"] is None and data["monthly_limit_usd"] == "1.000000"
    assert BudgetAlert.objects.count() == 1


def test_tenants_me_shows_this_months_spend(
    published_agent,
    key_client,
    known_prices,
):
    make_budget(published_agent.tenant, "5.00")
    spent_session(published_agent, "1.25")
    spent_session(published_agent, "0.50", status=SessionStatus.ACTIVE)
    body = key_client(published_agent.tenant, "viewer").get("/api/v1/tenants/me").json()
    spend = body["spend"]
    assert spend["spent_usd"] == "1.750000" and spend["currency"] == "USD"
    [budget] = spend["budgets"]
    assert budget["agent_id"] is None and budget["monthly_limit_usd"] == "5.000000"
    assert budget["spent_usd"] == "1.750000"


@pytest.mark.django_db(transaction=True)
def test_ten_live_sessions_crossing_the_budget_together(published_agent, livekit_server):
    """Ten sessions store turns concurrently (each in its own thread and event loop, as ten
    worker jobs would). Phase 1 spends $0.50 in all: nobody ends. Phase 2 adds $1.00: the
    budget is crossed, and at least the six sessions whose turn committed at or after the
    crossing are told to close. Phase 3: every session still talking finishes its next turn
    and is then told. Each hears the closing line exactly once; no turn's cost is lost."""
    from tests.economics.conftest import set_known_prices

    set_known_prices()
    tenant = published_agent.tenant
    Tenant.objects.filter(pk=tenant.pk).update(max_concurrent_sessions=None)
    make_budget(tenant, "1.00", reserve="0.01", closing_line="Time is up.")
    sessions = [create(tenant, user_id=f"user-{i}") for i in range(10)]
    closing: dict[int, list[str]] = {i: [] for i in range(10)}
    barrier = threading.Barrier(10)
    after_phase: dict[int, list[int]] = {1: [], 2: []}
    lock = threading.Lock()

    def run(index: int) -> None:
        class Meter:
            next: dict = {}

            def drain(self) -> dict:
                return self.next

        meter = Meter()

        async def on_budget_spent(line: str) -> None:
            closing[index].append(line)

        turn_store = store.SessionTurnStore(
            str(sessions[index].pk), meter=meter, on_budget_spent=on_budget_spent
        )

        async def talk() -> None:
            for phase, millions in ((1, 0.05), (2, 0.10), (3, 0.01)):
                if phase == 3 and closing[index]:
                    break  # told to close after phase 2: no further turn
                meter.next = million_prompt_tokens(millions)
                await turn_store.save(record(phase))
                if phase in after_phase:
                    with lock:
                        after_phase[phase].append(len(closing[index]))
                    await asyncio.get_running_loop().run_in_executor(None, barrier.wait)
            await store.close_connections()

        try:
            asyncio.run(talk())
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert after_phase[1] == [0] * 10  # $0.50 of $1.00: nobody was told to close
    assert sum(after_phase[2]) >= 6  # commits 5..10 of phase 2 saw at least $1.00
    assert all(lines == ["Time is up."] for lines in closing.values()), closing
    told_in_phase_2 = sum(after_phase[2])
    total = Decimal("1.50") + Decimal("0.01") * (10 - told_in_phase_2)
    assert sum(s.cost_usd for s in Session.objects.filter(tenant=tenant)) == total
