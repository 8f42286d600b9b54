"""Dispatch -> agent listening, in a real prewarmed job process of our worker.

Runs our ``AgentServer`` unregistered (no LiveKit server) with one idle, prewarmed job process
and dispatches sessions through livekit-agents' ``simulate_job``: each job reads its session
from PostgreSQL, decrypts the provider keys, validates the pinned version, builds the OpenAI
LLM/TTS and Deepgram STT plugins and starts the ``AgentSession``. The clock stops when the
job logs that the session is running (after ``session.start``: the agent is listening). A
fake OpenAI server answers on 127.0.0.1; no provider is called before the first turn.

    .venv/bin/python bench/job_start.py [--jobs 5]

Uses DATABASE_URL (default postgres://postgres@127.0.0.1:5432/voiceagents_bench, created and
migrated on first use). Goal: median dispatch -> listening <= 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import statistics
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _django import setup_django

GOAL_MS = 300.0


class JobLog:
    """Job processes log to the stderr they inherit: read it from a pipe, note each
    "session <id> running" line's own timestamp (wall clock, ms), pass the rest through."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.running: asyncio.Queue[float] = asyncio.Queue()
        self.started: asyncio.Queue[float] = asyncio.Queue()
        self._stderr = os.fdopen(os.dup(2), "w", buffering=1)
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, 2)
        os.close(write_fd)
        self._reader = os.fdopen(read_fd, "r", errors="replace")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self._reader:
            match = JOB_LINE.match(line)
            if match:
                stamp = datetime.strptime(match["stamp"], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                queue = self.running if match["what"] == "session" else self.started
                self.loop.call_soon_threadsafe(queue.put_nowait, stamp)
            if os.environ.get("BENCH_SHOW_LOG"):
                self._stderr.write(line)


JOB_LINE = re.compile(
    r"(?P<stamp>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO worker "
    r"(?P<what>session|job) \S+ (?:running|started)"
)


async def main_async(jobs: int) -> int:
    from asgiref.sync import sync_to_async
    from livekit.protocol import models

    from agents_config.factories import make_agent
    from agents_config.services import agent_publish
    from sessions_app.models import Session
    from tenants.models import Tenant
    from tenants.services import tenant_create
    from worker.server import ServerSettings, build_server

    def make_sessions() -> list[str]:
        Tenant.objects.filter(slug="bench-job-start").delete()
        tenant = tenant_create(slug="bench-job-start", name="bench")
        agent = make_agent(tenant=tenant, stt_config={"provider": "openai", "model": "whisper-1"})
        agent_publish(agent=agent, version="1.0.0")
        agent.refresh_from_db()
        return [
            str(
                Session.objects.create(
                    tenant=tenant,
                    agent=agent,
                    agent_version=agent.published_version,
                    agent_slug=agent.agent_id,
                    version_label=agent.published_version.version,
                    user_id=f"user-{index}",
                    room_name=f"va-bench-{index}",
                ).id
            )
            for index in range(jobs + 1)
        ]

    session_ids = await sync_to_async(make_sessions)()
    handler = JobLog()
    logging.getLogger("worker").setLevel(logging.INFO)  # job processes copy the levels
    server = build_server(
        ServerSettings(
            ws_url="", api_key="", api_secret="", agent_name="bench", num_idle_processes=1, port=0
        )
    )
    started = asyncio.Event()
    server.on("worker_started", lambda *_: started.set())
    run_task = asyncio.create_task(server.run(devmode=True, unregistered=True))
    results: list[float] = []
    entrypoint: list[float] = []
    try:
        await asyncio.wait_for(started.wait(), 120)
        pool = server._proc_pool
        for index, session_id in enumerate(session_ids):
            deadline = time.perf_counter() + 120
            while pool._warmed_proc_queue.qsize() < 1:
                if time.perf_counter() > deadline:
                    raise TimeoutError("no prewarmed job process")
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # let the fresh idle process settle
            metadata = json.dumps({"session_id": session_id})
            dispatched = time.time()
            await server.simulate_job(
                f"va-bench-{index}",
                fake_job=True,
                room_info=models.Room(name=f"va-bench-{index}", metadata=metadata),
            )
            running = await asyncio.wait_for(handler.running.get(), 60)
            entered = await asyncio.wait_for(handler.started.get(), 5)
            for job in server.active_jobs:  # free the process: one job at a time
                proc = pool.get_by_job_id(job.job.id)
                if proc is not None:
                    await proc.aclose()
            elapsed = (running - dispatched) * 1000
            in_entrypoint = (running - entered) * 1000
            label = "first (warm-up, not counted)" if index == 0 else f"job {index}"
            print(
                f"{label:<30} dispatch -> listening {elapsed:5.0f} ms "
                f"(entrypoint -> listening {in_entrypoint:4.0f} ms)",
                flush=True,
            )
            if index:
                results.append(elapsed)
                entrypoint.append(in_entrypoint)
    finally:
        await server.aclose()
        await asyncio.gather(run_task, return_exceptions=True)
    median = statistics.median(results)
    print(
        f"median dispatch -> agent listening {median:.0f} ms over {len(results)} jobs "
        f"(min {min(results):.0f}, max {max(results):.0f})"
    )
    print(
        f"median entrypoint -> agent listening {statistics.median(entrypoint):.0f} ms (the "
        "rest is the job runtime, including the simulation's mock room)"
    )
    met = median <= GOAL_MS
    print(f"goal: median <= {GOAL_MS:.0f} ms: {'MET' if met else 'NOT MET'}")
    return 0 if met else 1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=5)
    args = parser.parse_args()
    from tests.fakes.openai_server import FakeOpenAI

    fake = FakeOpenAI().__enter__()
    env = {
        "LOG_LEVEL": "WARNING",
        "OPENAI_API_KEY": "sk-bench",
        "DEEPGRAM_API_KEY": "dg-bench",
        "OPENAI_BASE_URL": fake.base_url,
        "REDIS_URL": "",
        # As ``python -m config.processes agent`` runs the worker: no connection pool, one
        # persistent connection per job process (DEBUG would make it per query).
        "DATABASE_POOL": "0",
        "CONN_MAX_AGE": "60",
    }
    for key, value in env.items():
        os.environ[key] = value
    setup_django()
    try:
        return asyncio.run(main_async(args.jobs))
    finally:
        fake.__exit__(None, None, None)


if __name__ == "__main__":
    sys.exit(main())
