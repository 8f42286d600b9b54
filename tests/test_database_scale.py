"""Large-table paths: the agent latency query reads the latest sessions' turns, by index."""

from __future__ import annotations

import importlib
import re

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


def _seed_sessions(template, *, agents, count, orphans) -> None:
    """``count`` copies of the ``template`` session spread over ``agents`` (round robin), plus
    ``orphans`` with no agent, one a minute back in time, with one INSERT … SELECT."""
    from django.db import connection

    from sessions_app.models import Session

    columns = [f.column for f in Session._meta.concrete_fields if f.column not in ("id",)]
    copied = [c for c in columns if c not in ("agent_id", "created_at", "room_name")]
    agent_ids = "ARRAY[" + ",".join(str(a.pk) for a in agents) + "]::bigint[]"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO sessions_app_session (id, agent_id, created_at, room_name, "
            f"{', '.join(copied)}) "
            f"SELECT gen_random_uuid(), "
            f"CASE WHEN n <= %s THEN NULL ELSE ({agent_ids})[1 + n %% {len(agents)}] END, "
            f"now() - n * interval '1 minute', 'seeded-' || n, {', '.join(copied)} "
            "FROM sessions_app_session, generate_series(1, %s) AS n WHERE id = %s",
            [orphans, count + orphans, template.pk],
        )
        cursor.execute("ANALYZE sessions_app_session")
        cursor.execute("ANALYZE agents_config_agent")


def _plan(queryset) -> str:
    from django.db import connection

    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_session_list_uses_the_agent_index_with_orphans(tenant):
    """The list an admin sees (the agents it may read, plus sessions whose agent was deleted)
    is two indexed branches, not a scan of the tenant's sessions: ``agent IN (…) OR agent IS
    NULL`` could use no index on a seeded table."""
    from django.db.models import Q

    from agents_config.models import Agent
    from sessions_app.models import Session
    from sessions_app.selectors import sessions_list, sessions_visible

    agents = [make_agent(tenant=tenant, agent_id=f"seeded-{i}") for i in range(100)]
    template = SessionFactory(agent=agents[0])
    _seed_sessions(template, agents=agents, count=100_000, orphans=300)
    readable = Agent.objects.filter(pk=agents[1].pk)

    listed = sessions_list(tenant_id=tenant.pk, agents=readable, include_orphans=True)
    plan = _plan(listed[:50])
    assert "Seq Scan on sessions_app_session" not in plan, plan
    # Each branch is found by an index on the agent column.
    assert re.search(r"Index Cond: \(agent_id = \d+\)", plan), plan
    assert "Index Cond: (agent_id IS NULL)" in plan, plan
    # The single-query form can only filter the tenant's sessions by the OR, row by row.
    single = Session.objects.filter(
        Q(agent__in=readable) | Q(agent__isnull=True), tenant_id=tenant.pk
    ).order_by("-created_at")
    assert "Index Cond: (agent_id" not in _plan(single[:50])

    # Same rows as the single-query form, newest first, orphans included.
    assert list(listed[:50]) == list(single[:50])
    assert (
        listed.count()
        == sessions_visible(tenant_id=tenant.pk, agents=readable, include_orphans=True).count()
        == 1000 + 300
    )
    filtered = sessions_list(
        tenant_id=tenant.pk, agents=readable, include_orphans=True, status=template.status
    )
    assert "Seq Scan on sessions_app_session" not in _plan(filtered[:50])
