"""``manage.py run_agent_worker``: the LiveKit agent worker running our dynamic agents."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class Command(BaseCommand):
    help = "Run the LiveKit agent worker (jobs built from the agent versions in the database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--agent-name",
            default=None,
            help="Agent name for explicit dispatch (default: settings.LIVEKIT_AGENT_NAME).",
        )
        parser.add_argument("--log-level", default="INFO", choices=LOG_LEVELS)
        parser.add_argument(
            "--dev",
            action="store_true",
            help="Development mode: no load limit, colourful defaults, exits without drain.",
        )
        parser.add_argument(
            "--num-idle-processes",
            type=int,
            default=None,
            help="Prewarmed job processes to keep ready (default: 0 in dev, 2 otherwise).",
        )
        parser.add_argument(
            "--health-port",
            type=int,
            default=8081,
            help="HTTP health check port (GET / -> 200 OK once registered with LiveKit, "
            "503 before); 0 picks a free port.",
        )
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=None,
            help="Expose livekit-agents' Prometheus metrics on this port (/metrics); "
            "default: settings.AGENT_WORKER_METRICS_PORT (off when unset).",
        )
        parser.add_argument(
            "--drain-timeout",
            type=int,
            default=60,
            help="Seconds running sessions get to end on SIGTERM before they are closed "
            "(each still finishes its current turn).",
        )
        parser.add_argument("--max-retry", type=int, default=16, help="LiveKit connect retries.")
        parser.add_argument(
            "--job-executor",
            choices=("process", "thread"),
            default="process",
            help="Run each job in its own process (default) or in threads of one process.",
        )
        parser.add_argument(
            "--no-tracing",
            action="store_true",
            help="Never export traces, whatever the agents' tracing settings say.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        missing = [
            name
            for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
            if not getattr(settings, name, "")
        ]
        if missing:
            raise CommandError(f"LiveKit is not configured: set {', '.join(missing)}.")

        from livekit.agents.job import JobExecutorType

        from worker.server import ServerSettings, build_server, serve
        from worker.tracing import TRACING_OFF_ENV

        if options["job_executor"] == "thread" and not options["no_tracing"]:
            # One tracer provider per process: threads would mix sessions' tracing settings.
            raise CommandError(
                "The thread job executor shares one tracer provider between sessions, so "
                "per-session tracing cannot work; use --job-executor process, or add "
                "--no-tracing."
            )
        if options["no_tracing"]:
            os.environ[TRACING_OFF_ENV] = "1"  # inherited by job processes

        level = getattr(logging, options["log_level"])
        for name in ("worker", "livekit", "livekit.agents"):
            logging.getLogger(name).setLevel(level)
        if not logging.getLogger().handlers:
            logging.basicConfig(
                level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
            )

        devmode = options["dev"]
        idle = options["num_idle_processes"]
        server_settings = ServerSettings(
            ws_url=settings.LIVEKIT_URL,
            api_key=settings.LIVEKIT_API_KEY,
            api_secret=settings.LIVEKIT_API_SECRET,
            agent_name=options["agent_name"] or settings.LIVEKIT_AGENT_NAME,
            num_idle_processes=(0 if devmode else 2) if idle is None else idle,
            port=options["health_port"],
            drain_timeout=options["drain_timeout"],
            max_retry=options["max_retry"],
            devmode=devmode,
            metrics_port=options["metrics_port"] or settings.AGENT_WORKER_METRICS_PORT,
            job_executor_type=(
                JobExecutorType.THREAD
                if options["job_executor"] == "thread"
                else JobExecutorType.PROCESS
            ),
        )
        self.stdout.write(
            f"Starting agent worker {server_settings.agent_name!r} for {settings.LIVEKIT_URL}"
        )
        server = build_server(server_settings)
        code = asyncio.run(
            serve(server, devmode=devmode, drain_timeout=server_settings.drain_timeout)
        )
        if code:
            raise CommandError("The agent worker stopped with an error (see the log above).")
