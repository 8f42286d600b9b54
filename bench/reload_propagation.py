"""Time from a publish's commit to a separate worker process receiving the change.

Usage (PostgreSQL and Redis running):
    .venv/bin/python bench/reload_propagation.py [--publishes 50]
Uses DATABASE_URL (default postgres://postgres@127.0.0.1:5432/voiceagents_bench, created and
migrated on first use) and REDIS_URL (default redis://127.0.0.1:6379/14). Goal: p99 < 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from _django import ROOT, setup_django

LISTENER = """
import asyncio, json, os, sys, time
sys.path.insert(0, {root!r})
import django; django.setup()
from django.conf import settings
from agents_config.config_broadcast import ConfigChangeListener

async def main(expected):
    seen = 0
    done = asyncio.Event()
    def on_change(change):
        nonlocal seen
        print(json.dumps({{"received_at": time.time(), **change}}), flush=True)
        seen += 1
        if seen >= expected:
            done.set()
    listener = ConfigChangeListener(settings.REDIS_URL, on_change)
    task = asyncio.create_task(listener.run())
    await listener.connected.wait()
    print("READY", flush=True)
    await asyncio.wait_for(done.wait(), 120)
    listener.stop()
    await task

asyncio.run(main(int(sys.argv[1])))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--publishes", type=int, default=50)
    args = parser.parse_args()
    setup_django(REDIS_URL="redis://127.0.0.1:6379/14")
    from django.db import transaction

    from agents_config.factories import agent_document
    from agents_config.models import Agent
    from agents_config.services import agent_create, agent_publish
    from tenants.models import Tenant
    from tenants.services import tenant_create

    tenant = Tenant.objects.filter(slug="bench").first() or tenant_create(slug="bench", name="B")
    Agent.objects.filter(tenant=tenant, agent_id="reload-bench").delete()
    agent = agent_create(tenant=tenant, data=agent_document(agent_id="reload-bench"))

    listener = subprocess.Popen(
        [sys.executable, "-c", LISTENER.format(root=str(ROOT)), str(args.publishes)],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert listener.stdout is not None
    assert listener.stdout.readline().strip() == "READY"

    committed: dict[str, float] = {}
    for _ in range(args.publishes):
        stamp: dict[str, float] = {}
        with transaction.atomic():
            # Registered before the publish, so it runs first when the commit completes.
            transaction.on_commit(lambda stamp=stamp: stamp.__setitem__("at", time.time()))
            version = agent_publish(agent=agent, allow_unchanged=True, bump_kind="patch")
        committed[version.version] = stamp["at"]
        time.sleep(0.02)
    latencies = []
    for _ in range(args.publishes):
        change = json.loads(listener.stdout.readline())
        latencies.append((change["received_at"] - committed[change["version"]]) * 1000)
    listener.wait(timeout=30)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"publishes: {len(latencies)}")
    print(
        f"commit -> worker process: p50 {statistics.median(latencies):.2f} ms, "
        f"p99 {p99:.2f} ms, max {latencies[-1]:.2f} ms"
    )
    print(f"goal p99 < 1000 ms: {'MET' if p99 < 1000 else 'NOT MET'}")


if __name__ == "__main__":
    main()
