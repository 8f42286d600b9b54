"""Sessions created per second through the API, and SQL queries per creation.

Usage (PostgreSQL running): .venv/bin/python bench/session_start.py [--sessions 300]
Uses DATABASE_URL (default postgres://postgres@127.0.0.1:5432/voiceagents_bench, created and
migrated on first use). Runs in-process through Django's test client with an API key; room
provisioning is queued to an in-memory broker (the LiveKit call is not part of this number).
Goal: a constant query count, at most 10, however many agents, fields and sessions exist.
"""

from __future__ import annotations

import argparse
import os
import time

from _django import setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=300)
    args = parser.parse_args()
    setup_django(
        LOG_LEVEL="ERROR",
        ALLOWED_HOSTS="testserver",
        LIVEKIT_URL="http://127.0.0.1:7880",
        LIVEKIT_API_KEY="bench",
        LIVEKIT_API_SECRET="bench-secret-0123456789abcdef0123456789",
    )
    from django.db import connection
    from django.test import Client

    from config.celery import app

    app.conf.task_always_eager = False
    app.conf.broker_url = "memory://"

    from agents_config.factories import agent_document
    from agents_config.services import agent_create, agent_publish
    from tenants.models import Tenant
    from tenants.services import api_key_create, tenant_create

    Tenant.objects.filter(slug__startswith="bench-start").delete()

    def scenario(label: str, extra_agents: int, extra_fields: int, warm_sessions: int) -> None:
        tenant = tenant_create(
            slug=f"bench-start-{label}", name=label, api_requests_per_minute=1_000_000
        )
        document = agent_document(agent_id="officer")
        for index in range(extra_fields):
            document["schema_config"]["fields"].append(
                {"field_name": f"extra_{index}", "field_type": "str", "required": False}
            )
        agent_publish(agent=agent_create(tenant=tenant, data=document))
        for index in range(extra_agents):
            agent_publish(
                agent=agent_create(tenant=tenant, data={**document, "agent_id": f"a{index}"})
            )
        client = Client(
            HTTP_AUTHORIZATION="Bearer "
            + api_key_create(tenant=tenant, name="bench", role="admin").raw_key
        )

        def start(user: str) -> None:
            response = client.post(
                "/api/v1/sessions",
                {"agent_id": "officer", "user_id": user},
                content_type="application/json",
            )
            assert response.status_code == 201, response.content[:300]

        # At least one: the month's first session creates its usage row and a key's first
        # use records last_used_at (each once, not per session).
        for index in range(max(1, warm_sessions)):
            start(f"warm-{index}")
        executed: list[str] = []

        def count(execute, sql, params, many, context):  # reset_queries can't clear this
            executed.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            start("measured")
        if os.environ.get("BENCH_SHOW_SQL"):
            print("\n".join(sql[:160] for sql in executed))
        began = time.perf_counter()
        for index in range(args.sessions):
            start(f"user-{index}")
        elapsed = time.perf_counter() - began
        print(
            f"{label:>7}: {1 + extra_agents:>3} agents, {6 + extra_fields:>3} fields, "
            f"{warm_sessions:>5} prior sessions -> {len(executed):>2} queries "
            f"per creation, {args.sessions / elapsed:7.1f} sessions/s"
        )
        return len(executed)

    counts = [
        scenario("small", 0, 0, 0),
        scenario("large", 50, 40, 1000),
    ]
    constant = len(set(counts)) == 1
    print(
        f"query count constant: {'yes' if constant else 'no'}; "
        f"goal <= 10: {'MET' if max(counts) <= 10 else 'NOT MET'}"
    )


if __name__ == "__main__":
    main()
