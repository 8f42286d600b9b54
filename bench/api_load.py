"""Open-loop load on the agent-config endpoint of the production web server.

Starts ``python -m config.processes web`` (gunicorn gthread, PostgreSQL + Redis, the
harness in ``bench/serving_load.py``) and sends ``GET /api/v1/agents/config/{agent_id}`` at a
fixed 200 req/s for 20 s from ``bench/loadgen.py``, a raw-socket open-loop generator in its
own process: request *i* is due at ``start + i / rate`` whatever the answers before it, and its
latency counts from when it was due, so a slow server cannot slow the load down and hide its
own queueing. Samples ``pg_stat_activity`` twice a second.

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/voiceagents
    export REDIS_URL=redis://127.0.0.1:6379/0
    .venv/bin/python bench/api_load.py

Goals: 0 errors, p99 < 50 ms, PostgreSQL connections ≤ workers × pool max.

CPU per request is read from ``/proc`` for the gunicorn processes, the PostgreSQL backends
serving them and the load generator: those numbers hold on a busy machine too. Latency and
throughput do not: on a machine whose cores other jobs use, the server waits for a core and
the backlog shows up as latency, so judge the latency goal on a quiet machine (the load
average before the run is printed).
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving_load import PeakConnections, bench_env, demo_api_key, web_server

RATE, DURATION = 200, 20.0
WORKERS, THREADS, POOL_MAX = 2, 4, 4
CONNECTIONS = 64  # keep-alive connections the generator may use at once
P99_GOAL_MS = 50.0
PATH = "/api/v1/agents/config/visa-interview-officer"
LOADGEN = Path(__file__).resolve().parent / "loadgen.py"


def _proc_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def backend_pids(database_url: str) -> set[int]:
    """PostgreSQL backends connected to the benchmark's database (this query's excluded)."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "select pid from pg_stat_activity where datname = current_database() "
            "and pid <> pg_backend_pid()"
        ).fetchall()
    return {row[0] for row in rows}


def warm(port: int, headers: dict[str, str], connections: int = 16, each: int = 10) -> None:
    """Requests on several connections at once, so every worker's pool and cache are warm."""

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(each):
            conn.request("GET", PATH, headers=headers)
            conn.getresponse().read()
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def open_loop(port: int, headers: dict[str, str], *, rate: float, duration: float) -> dict:
    """Runs ``bench/loadgen.py``; its result plus its CPU seconds."""
    argv = [sys.executable, str(LOADGEN), "--port", str(port), "--path", PATH]
    argv += ["--rate", str(rate), "--duration", str(duration)]
    argv += ["--connections", str(CONNECTIONS)]
    for name, value in headers.items():
        argv += ["--header", f"{name}: {value}"]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> int:
    env = bench_env(workers=WORKERS, threads=THREADS, pool_max=POOL_MAX)
    key = demo_api_key(env)
    headers = {"Authorization": f"Bearer {key}", "Host": "127.0.0.1"}
    peaks = PeakConnections(env["DATABASE_URL"])
    baseline = backend_pids(env["DATABASE_URL"])
    with web_server(env) as (port, pid):
        warm(port, headers)
        backends = backend_pids(env["DATABASE_URL"]) - baseline
        load_before = os.getloadavg()[0]
        peaks.start()
        cpu_before = server_cpu_seconds(pid)
        pg_before = {b: _proc_cpu_seconds(b) for b in backends}
        result = open_loop(port, headers, rate=RATE, duration=DURATION)
        cpu_used = server_cpu_seconds(pid) - cpu_before
        pg_used = sum(_proc_cpu_seconds(b) - pg_before[b] for b in backends)
        peaks.stop()
    bound = WORKERS * POOL_MAX
    count = max(1, result["requests"])
    cpu_ms = cpu_used / count * 1000
    errors = sum(result["errors"].values())
    print(
        f"gunicorn gthread --preload, {WORKERS} workers × {THREADS} threads, pool max "
        f"{POOL_MAX}; open loop {RATE} req/s for {DURATION:.0f} s, {os.cpu_count()} CPUs, "
        f"load average before the run {load_before:.1f}"
    )
    print(
        f"GET /api/v1/agents/config/{{id}}: {result['requests']} requests, "
        f"{result['rps']:.1f} req/s, p50 {result['p50']:.1f} ms, p95 {result['p95']:.1f} ms, "
        f"p99 {result['p99']:.1f} ms, max {result['max']:.1f} ms, "
        f"errors {errors} {result['errors'] or ''}"
    )
    print(f"server CPU per request: {cpu_ms:.2f} ms (all gunicorn processes)")
    print(
        f"PostgreSQL CPU per request: {pg_used / count * 1000:.2f} ms "
        f"({len(backends)} backends of the web server)"
    )
    print(
        f"load generator CPU per request: {result['cpu_seconds'] / count * 1000:.2f} ms "
        "(bench/loadgen.py, same machine)"
    )
    print(f"PostgreSQL connections opened by the web server, peak: {peaks.peak} (bound {bound})")
    if load_before > 1.0:
        print(
            f"note: load average {load_before:.1f} before the run: other jobs share the CPUs, "
            "so latency here overstates the server's; judge p99 on a quiet machine"
        )
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
