"""Load against the production web server (gunicorn gthread + psycopg pool) on PostgreSQL.

Starts ``python -m config.processes web`` with 2 workers × 4 threads, then for
``GET /healthz`` and ``GET /api/v1/agents/config/{agent_id}`` (API key, PostgreSQL and Redis on
every request) runs: a paced 50 req/s for 10 s (the rate that gave 39 % 500s with uvicorn and
``CONN_MAX_AGE`` without a pool), then as fast as 16 keep-alive clients go for 10 s. Prints
req/s, latency percentiles, non-2xx answers and the most PostgreSQL connections seen.

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/voiceagents
    export REDIS_URL=redis://127.0.0.1:6379/0
    .venv/bin/python bench/serving_load.py

The load generator runs on the same machine (Python threads), so the maximum rate measures both.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKERS, THREADS, POOL_MAX = 2, 4, 8
PACED_RATE, DURATION, CLIENTS = 50, 10.0, 16


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env, cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout


def pg_connections(database_url: str) -> int:
    """Connections to the benchmark's database, this query's own excluded."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select count(*) from pg_stat_activity where datname = current_database()"
        ).fetchone()
    return row[0] - 1


def run_load(port: int, path: str, headers: dict[str, str], *, rate: float | None) -> dict:
    """``CLIENTS`` threads, each with a keep-alive connection; paced to ``rate`` in total."""
    latencies: list[float] = []
    failures: dict[str, int] = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + DURATION
    interval = CLIENTS / rate if rate else 0.0

    def client(offset: float) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        next_at = time.monotonic() + offset
        while True:
            if interval:
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                next_at += interval
            if time.monotonic() >= stop_at:
                break
            started = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                status = str(response.status)
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                if not status.startswith("2"):
                    failures[status] = failures.get(status, 0) + 1
        connection.close()

    threads = [
        threading.Thread(target=client, args=(i * interval / CLIENTS,)) for i in range(CLIENTS)
    ]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.monotonic() - began
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0

    return {
        "requests": len(latencies),
        "rps": len(latencies) / took,
        "p50": statistics.median(ordered) if ordered else 0.0,
        "p95": pct(95),
        "p99": pct(99),
        "failures": failures,
    }


def bench_env(*, workers: int = WORKERS, threads: int = THREADS, pool_max: int = POOL_MAX):
    """The production settings the benchmarks run the web server with (DEBUG off)."""
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres") or not os.environ.get("REDIS_URL"):
        sys.exit("Set DATABASE_URL (PostgreSQL) and REDIS_URL.")
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret-key-" + "x" * 40),
        "SECRETS_ENCRYPTION_KEY": os.environ.get(
            "SECRETS_ENCRYPTION_KEY", "YmVuY2gtb25seS1lbmNyeXB0aW9uLWtleS0zMmJ5dGU="
        ),
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_ROOT": tempfile.mkdtemp(prefix="bench-static-"),
        "WEB_HOST": "127.0.0.1",
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_THREADS": str(threads),
        "DATABASE_POOL_MAX_SIZE": str(pool_max),
        "PYTHONUNBUFFERED": "1",
    }


def demo_api_key(env: dict[str, str]) -> str:
    """Migrate, load the demo agent, lift its rate limit; a fresh viewer key for it."""
    manage("migrate", "--noinput", env=env)
    manage("load_demo_agent", env=env)
    manage(
        "shell", "-c",
        "from tenants.models import Tenant; "
        "Tenant.objects.filter(slug='demo').update(api_requests_per_minute=1000000)",
        env=env,
    )  # fmt: skip
    output = manage("create_api_key", "--tenant", "demo", "--role", "viewer", env=env)
    return output.strip().splitlines()[-1].strip()


class PeakConnections:
    """Samples ``pg_stat_activity`` every half second; ``peak`` is above the baseline."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.before = pg_connections(database_url)
        self.peak = 0
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while self._running:
            self.peak = max(self.peak, pg_connections(self.database_url) - self.before)
            time.sleep(0.5)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._running = False


@contextlib.contextmanager
def web_server(env: dict[str, str]):
    """``python -m config.processes web`` on a free port, ready for requests; yields the port
    and the server's process group id."""
    port = free_port()
    env = {**env, "PORT": str(port)}
    web = subprocess.Popen(
        [sys.executable, "-m", "config.processes", "web"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                probe.request("GET", "/healthz")
                if probe.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.3)
        else:
            sys.exit("web did not start")
        yield port, web.pid
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)


def main() -> int:
    env = bench_env()
    database_url = env["DATABASE_URL"]
    key = demo_api_key(env)
    peaks = PeakConnections(database_url)
    with web_server(env) as (port, _):
        peaks.start()
        auth = {"Authorization": f"Bearer {key}", "Host": "127.0.0.1"}
        targets = [
            ("GET /healthz", "/healthz", {"Host": "127.0.0.1"}),
            (
                "GET /api/v1/agents/config/{id}",
                "/api/v1/agents/config/visa-interview-officer",
                auth,
            ),
        ]
        print(f"gunicorn gthread, {WORKERS} workers × {THREADS} threads, pool max {POOL_MAX}")
        results = {}
        for label, path, headers in targets:
            for mode, rate in (("paced 50 req/s", PACED_RATE), (f"{CLIENTS} clients", None)):
                r = run_load(port, path, headers, rate=rate)
                results[(label, mode)] = r
                print(
                    f"{label:34} {mode:15} {r['rps']:7.1f} req/s  p50 {r['p50']:6.1f} ms  "
                    f"p95 {r['p95']:6.1f} ms  p99 {r['p99']:6.1f} ms  "
                    f"non-2xx {sum(r['failures'].values())} {r['failures'] or ''}"
                )
    peaks.stop()
    peak = peaks.peak
    bound = WORKERS * POOL_MAX
    print(f"PostgreSQL connections opened by the web server, peak: {peak} (bound {bound})")
    paced = results[("GET /api/v1/agents/config/{id}", "paced 50 req/s")]
    no_errors = not any(r["failures"] for r in results.values())
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(
        "goal: no 5xx or connection errors with 50 req/s offered to the config endpoint: "
        + ("MET" if not paced["failures"] else "NOT MET")
    )
    print(
        f"goal: the config endpoint sustains 50 req/s ({paced['rps']:.1f}): "
        + ("MET" if paced["rps"] >= 0.95 * PACED_RATE else "NOT MET")
    )
    print("goal: no non-2xx answer in any run: " + ("MET" if no_errors else "NOT MET"))
    print(f"goal: PostgreSQL connections ≤ {bound}: " + ("MET" if peak <= bound else "NOT MET"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
