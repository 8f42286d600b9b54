"""One entry point per process, used by the Procfile, the container image and the quick start.

    python -m config.processes web                        # gunicorn (gthread) serving Django
    python -m config.processes worker provisioning default  # a Celery worker for these queues
    python -m config.processes beat                       # Celery beat: run exactly one
    python -m config.processes agent [run_agent_worker options]
    python -m config.processes migrate                    # release step: apply migrations

Each prepares what its process needs (the web process checks migrations and collects static
files) and then replaces itself (``exec``) with the real server, so signals from the process
manager (SIGTERM for a graceful drain) reach gunicorn, Celery or the agent worker directly.
Settings come from the environment; see README "Deployment".
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

USAGE = "usage: python -m config.processes {web|worker [QUEUE...]|beat|agent [ARGS...]|migrate}"


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _replace_process(argv: list[str]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)  # noqa: S606 - argv is built here, never from user input


def gunicorn_argv() -> list[str]:
    """gunicorn with threaded workers (gthread).

    Requests are I/O-bound (PostgreSQL, Redis, LiveKit's API) and the playground may stream
    text over server-sent events: a thread per request serves several at once per process
    without the monkey-patching of gevent/eventlet, and a long-lived stream holds one thread,
    not a whole worker process.
    """
    host = _env("WEB_HOST", "0.0.0.0")  # noqa: S104 - a container listens on all interfaces
    bind = f"{host}:{_env('PORT', '8000')}"
    return [
        sys.executable, "-m", "gunicorn", "config.wsgi:application",
        "--bind", bind,
        "--worker-class", "gthread",
        "--workers", _env("WEB_CONCURRENCY", "2"),
        "--threads", _env("GUNICORN_THREADS", "4"),
        "--timeout", _env("GUNICORN_TIMEOUT", "60"),
        # SIGTERM: stop accepting, let in-flight requests finish for this long, then exit.
        "--graceful-timeout", _env("GUNICORN_GRACEFUL_TIMEOUT", "30"),
        "--keep-alive", _env("GUNICORN_KEEPALIVE", "5"),
        # Import the application (Django, the URLconf, livekit-agents: seconds of CPU) once in
        # the master: workers fork ready, and a recycled worker's replacement serves at once.
        # The master opens no database or Redis connection (they are made per worker).
        "--preload",
        # Recycle workers now and then (bounded memory growth), staggered.
        "--max-requests", _env("GUNICORN_MAX_REQUESTS", "10000"),
        "--max-requests-jitter", _env("GUNICORN_MAX_REQUESTS_JITTER", "1000"),
        # Which proxies may set X-Forwarded-Proto/For (the TLS-terminating load balancer).
        "--forwarded-allow-ips", _env("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        "--access-logfile", "-",
        "--no-control-socket",
    ]  # fmt: skip


def web() -> None:
    _setup_django()
    from django.conf import settings
    from django.core.management import call_command

    try:
        call_command("migrate", check_unapplied=True, verbosity=0)
    except SystemExit:
        if _env("MIGRATE_ON_START", "0") != "1":
            sys.exit(
                "Unapplied migrations: run `python -m config.processes migrate` first "
                "(or set MIGRATE_ON_START=1 for a single web process)."
            )
        call_command("migrate", interactive=False)
    if not settings.DEBUG:
        # Hashed, compressed copies for WhiteNoise; with DEBUG WhiteNoise reads the app folders.
        call_command("collectstatic", interactive=False, verbosity=0)
    prepare_metrics_dir()
    _replace_process(gunicorn_argv())


def prepare_metrics_dir() -> None:
    """prometheus-client's multiprocess mode: an empty ``PROMETHEUS_MULTIPROC_DIR`` per start
    (values of processes from a previous run would be added to this run's)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


def celery_worker_argv(kinds: Sequence[str]) -> list[str]:
    """A Celery worker consuming the given kinds of work (all of them when none are given)."""
    from django.conf import settings

    from config.celery import queue_name, worker_queues

    queues = (
        [settings.CELERY_TASK_DEFAULT_QUEUE if k == "default" else queue_name(k) for k in kinds]
        if kinds
        else worker_queues()
    )
    label = "-".join(kinds) if kinds else "all"
    return [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "--queues", ",".join(queues),
        "--hostname", f"{label}@%h",
        "--concurrency", _env("CELERY_CONCURRENCY", "2"),
        "--max-tasks-per-child", _env("CELERY_MAX_TASKS_PER_CHILD", "500"),
        "--loglevel", _env("CELERY_LOG_LEVEL", "INFO"),
    ]  # fmt: skip


def worker(kinds: Sequence[str]) -> None:
    _setup_django()
    from django.conf import settings

    unknown = set(kinds) - set(settings.TASK_QUEUES.values()) - {"default"}
    if unknown:
        sys.exit(f"Unknown queue(s) {', '.join(sorted(unknown))}; see settings.TASK_QUEUES.")
    if settings.CELERY_METRICS_PORT and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # The pool processes count task outcomes; the worker's metrics server (config.celery)
        # adds up their values from files in a directory of this worker's own.
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="celery-metrics-")
    _replace_process(celery_worker_argv(kinds))


def beat() -> None:
    _setup_django()
    _replace_process(
        [sys.executable, "-m", "celery", "-A", "config", "beat",
         "--loglevel", _env("CELERY_LOG_LEVEL", "INFO")]
    )  # fmt: skip


def agent(args: Sequence[str]) -> None:
    manage = str(Path(__file__).resolve().parent.parent / "manage.py")
    options = ["--health-port", _env("AGENT_HEALTH_PORT", "8081")]
    if os.environ.get("AGENT_NUM_IDLE_PROCESSES"):
        options += ["--num-idle-processes", os.environ["AGENT_NUM_IDLE_PROCESSES"]]
    _replace_process([sys.executable, manage, "run_agent_worker", *options, *args])


def migrate() -> None:
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False)


def main(argv: Sequence[str]) -> None:
    if not argv:
        sys.exit(USAGE)
    kind, rest = argv[0], list(argv[1:])
    if kind != "web":
        # Celery pool processes and agent jobs run one task at a time: one persistent
        # connection each (CONN_MAX_AGE) is already bounded, and a psycopg pool's threads
        # would not survive the fork into pool processes.
        os.environ["DATABASE_POOL"] = "0"
    if kind == "web":
        web()
    elif kind == "worker":
        worker(rest)
    elif kind == "beat":
        beat()
    elif kind == "agent":
        agent(rest)
    elif kind == "migrate":
        migrate()
    else:
        sys.exit(USAGE)


if __name__ == "__main__":
    main(sys.argv[1:])
