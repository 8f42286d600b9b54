"""Open-loop load on the agent-config endpoint of the production web server.

Starts ``python -m config.processes web`` (gunicorn gthread, PostgreSQL + Redis, the
harness in ``bench/serving_load.py``) and sends ``GET /api/v1/agents/config/{agent_id}`` at a
fixed 200 req/s for 20 s. Open loop: request *i* is due at ``start + i / rate`` whatever the
answers before it, and its latency counts from when it was due, so a slow server cannot slow
the load down and hide its own queueing. Samples ``pg_stat_activity`` twice a second.

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/voiceagents
    export REDIS_URL=redis://127.0.0.1:6379/0
    .venv/bin/python bench/api_load.py

Goals: 0 errors, p99 < 50 ms, PostgreSQL connections ≤ workers × pool max. The load
generator shares the machine's CPUs with the server.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving_load import PeakConnections, bench_env, demo_api_key, web_server

RATE, DURATION = 200, 20.0
WORKERS, THREADS, POOL_MAX = 2, 4, 4
SENDERS = 32  # each sender owns every 32nd slot: a slot is late only after 160 ms of backlog
P99_GOAL_MS = 50.0
PATH = "/api/v1/agents/config/visa-interview-officer"


async def _send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> str:
    """One HTTP/1.1 keep-alive exchange; the status code (the body is read and dropped)."""
    writer.write(request)
    status_line = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status_line.split()[1].decode() if status_line else "closed"


async def _open_loop(port: int, headers: dict[str, str], rate: float, duration: float) -> dict:
    total = int(rate * duration)
    request = (
        f"GET {PATH} HTTP/1.1\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        + "\r\n"
    ).encode()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5

    async def sender(first: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for slot in range(first, total, SENDERS):
            due = start + slot / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            for _attempt in range(2):
                try:
                    status = await asyncio.wait_for(_send(reader, writer, request), 10)
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    status = type(exc).__name__
                if status == "200":
                    break
                if status in ("closed", "BrokenPipeError", "ConnectionResetError"):
                    # The server closed an idle keep-alive connection (gunicorn's keepalive):
                    # like any HTTP client, send the idempotent GET again on a new one.
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                break
            latencies.append((loop.time() - due) * 1000)
            if status != "200":
                errors[status] = errors.get(status, 0) + 1
        writer.close()

    await asyncio.gather(*(sender(i) for i in range(SENDERS)))
    took = loop.time() - start
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0

    return {
        "requests": len(ordered),
        "rps": len(ordered) / took,
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "max": ordered[-1] if ordered else 0.0,
        "errors": errors,
    }


def open_loop(port: int, headers: dict[str, str], *, rate: float, duration: float) -> dict:
    """``rate × duration`` requests, each due at a fixed time; latency from its due time.
    asyncio with raw HTTP/1.1 keeps the generator's own CPU small (it shares the 2 cores)."""
    return asyncio.run(_open_loop(port, headers, rate, duration))


def server_cpu_seconds(pid_group_leader: int) -> float:
    """User + system CPU of the gunicorn master and workers so far (from /proc)."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pid_group_leader:  # field 5: process group
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def main() -> int:
    env = bench_env(workers=WORKERS, threads=THREADS, pool_max=POOL_MAX)
    key = demo_api_key(env)
    headers = {"Authorization": f"Bearer {key}", "Host": "127.0.0.1"}
    peaks = PeakConnections(env["DATABASE_URL"])
    with web_server(env) as (port, pid):
        warm = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(50):  # every worker's pool and draft cache warm
            warm.request("GET", PATH, headers=headers)
            warm.getresponse().read()
        warm.close()
        peaks.start()
        cpu_before = server_cpu_seconds(pid)
        result = open_loop(port, headers, rate=RATE, duration=DURATION)
        cpu_used = server_cpu_seconds(pid) - cpu_before
        peaks.stop()
    bound = WORKERS * POOL_MAX
    cpu_ms = cpu_used / max(1, result["requests"]) * 1000
    print(
        f"gunicorn gthread, {WORKERS} workers × {THREADS} threads, pool max {POOL_MAX}; "
        f"open loop {RATE} req/s for {DURATION:.0f} s, {os.cpu_count()} CPUs"
    )
    print(
        f"GET /api/v1/agents/config/{{id}}: {result['requests']} requests, "
        f"{result['rps']:.1f} req/s, p50 {result['p50']:.1f} ms, p95 {result['p95']:.1f} ms, "
        f"p99 {result['p99']:.1f} ms, max {result['max']:.1f} ms, "
        f"errors {sum(result['errors'].values())} {result['errors'] or ''}"
    )
    print(f"server CPU per request: {cpu_ms:.2f} ms (all gunicorn processes)")
    print(f"PostgreSQL connections opened by the web server, peak: {peaks.peak} (bound {bound})")
    errors = sum(result["errors"].values())
    print(f"goal: 0 errors at {RATE} req/s ({errors}): " + ("MET" if errors == 0 else "NOT MET"))
    print(
        f"goal: p99 < {P99_GOAL_MS:.0f} ms ({result['p99']:.1f} ms): "
        + ("MET" if result["p99"] < P99_GOAL_MS else "NOT MET")
    )
    print(
        f"goal: PostgreSQL connections ≤ {bound} ({peaks.peak}): "
        + ("MET" if peaks.peak <= bound else "NOT MET")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
