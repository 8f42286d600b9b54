"""Build and run the LiveKit ``AgentServer`` (livekit-agents 1.8 API) for our entrypoint.

``run_server`` owns the process's signals: the first SIGTERM/SIGINT stops taking jobs and
drains (each session finishes its current turn, which is recorded), then the process exits 0;
a second signal exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass

from aiohttp import web
from livekit.agents import AgentServer
from livekit.agents.job import JobExecutorType

from worker.entrypoint import entrypoint, prewarm
from worker.preload import FORKSERVER_MODULES

logger = logging.getLogger("worker")


@dataclass(frozen=True)
class ServerSettings:
    ws_url: str
    api_key: str
    api_secret: str
    agent_name: str
    num_idle_processes: int = 2
    port: int = 8081
    drain_timeout: int = 60
    max_retry: int = 16
    devmode: bool = False
    job_executor_type: JobExecutorType = JobExecutorType.PROCESS
    # livekit-agents' own Prometheus endpoint (job and worker metrics); None: off.
    metrics_port: int | None = None
    metrics_multiproc_dir: str | None = None


UNREGISTERED_ID = "unregistered"  # AgentServer.id until LiveKit accepted the registration


def is_registered(server: AgentServer) -> bool:
    """Registered with LiveKit and not given up connecting (``AgentServer.id`` is the string
    "unregistered" until then, so its truth says nothing)."""
    worker_id = getattr(server, "id", "") or UNREGISTERED_ID
    return worker_id != UNREGISTERED_ID and not getattr(server, "_connection_failed", False)


class HealthServer:
    """``GET /`` on the health port: 200 "OK" once the worker is registered with LiveKit,
    503 before (and after a failed connection), so an orchestrator routes no work to a worker
    that cannot take jobs. (livekit-agents' own health page answers OK while unregistered.)"""

    def __init__(
        self,
        server: AgentServer,
        *,
        host: str = "0.0.0.0",  # noqa: S104 - probed from outside the container
        port: int = 8081,
    ):
        self.server = server
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def health(self, _: web.Request) -> web.Response:
        if is_registered(self.server):
            return web.Response(text="OK")
        return web.Response(status=503, text="not registered with LiveKit")

    async def worker(self, _: web.Request) -> web.Response:
        """``GET /worker``: what this worker is (always 200, for dashboards and debugging)."""
        return web.json_response(
            {
                "agent_name": getattr(self.server, "_agent_name", ""),
                "worker_id": getattr(self.server, "id", UNREGISTERED_ID),
                "registered": is_registered(self.server),
                "active_jobs": active_job_count(self.server),
            }
        )

    async def start(self) -> None:
        app = web.Application()
        app.add_routes([web.get("/", self.health), web.get("/worker", self.worker)])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # the real one for port 0
        logger.info("health check listening on %s:%s", self.host, self.port)

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def build_server(options: ServerSettings) -> AgentServer:
    server = AgentServer(
        ws_url=options.ws_url,
        api_key=options.api_key,
        api_secret=options.api_secret,
        num_idle_processes=options.num_idle_processes,
        port=0,  # livekit-agents' page says OK while unregistered; ours is HealthServer
        drain_timeout=options.drain_timeout,
        max_retry=options.max_retry,
        setup_fnc=prewarm,
        job_executor_type=options.job_executor_type,
        # Imported once in the forkserver, inherited by every job process.
        preload_modules=list(FORKSERVER_MODULES),
        prometheus_port=options.metrics_port,
        prometheus_multiproc_dir=options.metrics_multiproc_dir,
    )
    server.health = HealthServer(server, port=options.port)
    server.rtc_session(entrypoint, agent_name=options.agent_name)
    server.on(
        "worker_registered",
        lambda worker_id, info: logger.info(
            "registered with LiveKit as worker %s (%s)", worker_id, options.agent_name
        ),
    )
    return server


async def log_status(server: AgentServer, interval: float) -> None:
    """Log the registration state and the number of running jobs every ``interval`` s."""
    while True:
        await asyncio.sleep(interval)
        registered = is_registered(server)
        logger.info(
            "worker status: %s, %d active job(s)",
            "registered" if registered else "not registered (connecting)",
            active_job_count(server),
        )


def active_job_count(server: AgentServer) -> int:
    try:
        return len(server.active_jobs)
    except AttributeError:  # before ``run`` built the process pool
        return 0


async def serve(
    server: AgentServer, *, devmode: bool, drain_timeout: int, status_interval: float = 60.0
) -> int:
    """Run until the server fails (exit 1) or a signal asks for a drained stop (exit 0)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals_seen = 0

    def on_signal(signum: int) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen > 1:
            logger.warning("second signal: exiting now")
            os._exit(1)
        logger.info("received %s: draining", signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)

    health: HealthServer | None = getattr(server, "health", None)
    if health is not None:
        await health.start()
    run_task = asyncio.create_task(server.run(devmode=devmode))
    status_task = asyncio.create_task(log_status(server, status_interval))
    stop_task = asyncio.create_task(stop.wait())
    await asyncio.wait({run_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if run_task.done() and not stop.is_set():
        stop_task.cancel()
        exc = run_task.exception()
        if exc is not None:
            logger.error("worker stopped: %s", exc)
            code = 1
    else:
        try:
            # No new jobs; running sessions get ``drain_timeout`` to end on their own.
            await server.drain(timeout=max(1, drain_timeout))
        except TimeoutError:
            logger.info("drain timeout reached; closing the remaining sessions")
    # Closing a job closes its session with drain: the current turn finishes and is stored.
    await server.aclose()
    if not run_task.done():
        run_task.cancel()
    status_task.cancel()
    await asyncio.gather(run_task, status_task, return_exceptions=True)
    if health is not None:
        await health.aclose()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(signum)
    logger.info("worker stopped")
    return code
