"""Large-table paths: the agent latency query reads the latest sessions' turns, by index."""

from __future__ import annotations

import importlib

import pytest

from agents_config.factories import make_agent
from sessions_app.factories import SessionFactory, TurnFactory
from sessions_app.selectors import agent_turn_latency

pytestmark = pytest.mark.django_db


def test_agent_latency_from_recent_turns(tenant, django_assert_num_queries):
    agent = make_agent(tenant=tenant)
    other = make_agent(tenant=tenant, agent_id="other-agent")
    for ms in (100, 200, 300):
        TurnFactory(session=SessionFactory(agent=agent), first_spoken_ms=ms, tts_ttfb_ms=ms / 2)
    TurnFactory(session=SessionFactory(agent=other), first_spoken_ms=9000, tts_ttfb_ms=9000)
    with django_assert_num_queries(1):
        latency = agent_turn_latency(agent=agent)
    assert latency["first_spoken_ms"] == {"p50": 200, "p90": 300, "count": 3}
    assert latency["tts_ttfb_ms"]["count"] == 3


def test_session_indexes_are_built_concurrently():
    migration = importlib.import_module("sessions_app.migrations.0010_session_list_indexes")
    assert migration.Migration.atomic is False
    names = {op.index.name for op in migration.Migration.operations}
    assert names == {"session_agent_recent", "session_tenant_user"}
