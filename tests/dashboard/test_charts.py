"""Charts over time (server-rendered SVG) and a session's latency breakdown."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from agents_config import services as agent_services
from sessions_app.factories import SessionFactory, TurnFactory
from sessions_app.selectors import agent_daily_metrics

pytestmark = pytest.mark.django_db


def seed_turns(agent):
    """Two days of turns on 1.0.0 (first spoken 100..1000 ms, first audio 200..2000 ms
    today)."""
    now = timezone.now()
    yesterday = now - dt.timedelta(days=1)
    old = SessionFactory(agent=agent, created_at=yesterday)
    TurnFactory(
        session=old,
        first_spoken_ms=800,
        tts_ttfb_ms=300,
        e2e_latency_ms=1600,
        created_at=yesterday,
    )
    today = SessionFactory(agent=agent)
    for i in range(1, 11):
        TurnFactory(
            session=today,
            first_spoken_ms=100.0 * i,
            tts_ttfb_ms=50.0 * i,
            e2e_latency_ms=200.0 * i,
            validation_errors=["bad"] if i <= 2 else [],
        )
    return today


def test_daily_metrics_per_agent_and_per_version(published_agent):
    seed_turns(published_agent)
    agent_services.agent_update_sections(
        agent=published_agent, partial={"llm_config": {"temperature": 0.2}}
    )
    agent_services.agent_publish(agent=published_agent, version="1.1.0")
    published_agent.refresh_from_db()
    newer = SessionFactory(agent=published_agent)
    TurnFactory(session=newer, first_spoken_ms=50, e2e_latency_ms=700, version_label="1.1.0")

    metrics = agent_daily_metrics(agent=published_agent, days=7)
    # First audio (end of user speech -> first frame), nearest-rank over 11 turns today:
    # 200..2000 and 700 -> p50 is the 6th value (1000), p90 the 10th (1800).
    assert metrics["first_audio_ms"]["p50"][-2:] == [1600.0, 1000.0]
    assert metrics["first_audio_ms"]["p90"][-1] == 1800.0
    by_version = metrics["first_audio_p50_by_version"]
    assert by_version["1.0.0"][-2:] == [1600.0, 1000.0] and by_version["1.1.0"][-1] == 700.0
    assert metrics["first_spoken_ms"]["p50"][-2:] == [800.0, 500.0]
    assert metrics["first_spoken_ms"]["p90"][-1] == 900.0
    assert metrics["validation_error_pct"][-1] == round(100 * 2 / 11, 1)
    assert metrics["sessions"][-2:] == [1, 2]
    assert metrics["first_spoken_ms"]["p50"][0] is None  # no turns that day

    v1 = agent_daily_metrics(agent=published_agent, version="1.0.0", days=7)
    assert v1["first_spoken_ms"]["p50"][-1] == 500.0 and v1["sessions"][-1] == 1
    v2 = agent_daily_metrics(agent=published_agent, version="1.1.0", days=7)
    assert v2["first_spoken_ms"]["p50"][-1] == 50.0 and v2["turn_count"] == 1
    assert v2["first_audio_ms"]["p50"][-1] == 700.0 and v2["first_audio_p50_by_version"] == {}


def test_charts_page_renders_svg(admin_client, published_agent):
    seed_turns(published_agent)
    url = reverse("admin:sessions_app_session_charts", args=[published_agent.pk])
    body = admin_client.get(url, {"days": "7", "version": "1.0.0"}).content.decode()
    assert body.count('<figure class="chart"') == 5  # one version: no per-version chart
    assert "First audio" in body and 'data-value="1000"' in body
    assert 'data-series="p50"' in body and 'data-series="p90"' in body
    assert 'data-value="500"' in body and 'class="bar"' in body
    change = admin_client.get(
        reverse("admin:agents_config_agent_change", args=[published_agent.pk])
    )
    assert url in change.content.decode()
    every = admin_client.get(url, {"days": "7"}).content.decode()
    assert every.count('<figure class="chart"') == 6
    assert 'data-series="1.0.0"' in every  # first-audio p50 per version


def test_tool_calls_and_their_failures_per_day(admin_client, published_agent):
    session = SessionFactory(agent=published_agent)
    TurnFactory(
        session=session,
        tool_calls=[
            {"name": "lookup", "status": "ok"},
            {"name": "lookup", "status": "timeout"},
            {"name": "crm", "status": "error"},
            {"name": "crm", "status": "cancelled"},  # the user interrupted: not a fault
        ],
    )
    TurnFactory(session=session)  # no tools
    metrics = agent_daily_metrics(agent=published_agent, days=7)
    assert metrics["tool_calls"][-1] == 4 and metrics["tool_error_pct"][-1] == 50.0
    assert metrics["tool_calls"][0] == 0 and metrics["tool_error_pct"][0] is None
    url = reverse("admin:sessions_app_session_charts", args=[published_agent.pk])
    body = admin_client.get(url, {"days": "7"}).content.decode()
    assert "Tool calls that failed" in body and "Tool calls per day" in body


def test_charts_page_is_scoped(client, member_factory, published_agent, other_tenant):
    outsider = member_factory(other_tenant, "admin")
    client.force_login(outsider)
    url = reverse("admin:sessions_app_session_charts", args=[published_agent.pk])
    assert client.get(url).status_code == 404


def test_session_page_shows_the_latency_breakdown(admin_client, published_agent):
    session = seed_turns(published_agent)
    page = admin_client.get(reverse("admin:sessions_app_session_change", args=[session.pk]))
    body = page.content.decode()
    # 10 turns × (first spoken, TTS first byte, first audio)
    assert body.count('class="latency"') == 30
    assert 'data-kind="e2e_latency_ms" data-value="2000"' in body
    assert 'data-kind="first_spoken_ms" data-value="1000"' in body
