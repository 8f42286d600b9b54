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


def build_server(options: ServerSettings) -> AgentServer:
    server = AgentServer(
        ws_url=options.ws_url,
        api_key=options.api_key,
        api_secret=options.api_secret,
        num_idle_processes=options.num_idle_processes,
        port=options.port,
        drain_timeout=options.drain_timeout,
        max_retry=options.max_retry,
        setup_fnc=prewarm,
        job_executor_type=options.job_executor_type,
        # Imported once in the forkserver, inherited by every job process.
        preload_modules=list(FORKSERVER_MODULES),
    )
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
        registered = bool(getattr(server, "id", ""))
        logger.info(
            "worker status: %s, %d active job(s)",
            "registered" if registered else "not registered (connecting)",
            len(server.active_jobs),
        )


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
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(signum)
    logger.info("worker stopped")
    return code
