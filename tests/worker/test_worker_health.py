"""The worker's health port answers 503 until LiveKit registered it; its status log agrees."""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from worker.server import ServerSettings, build_server, is_registered, log_status


def _server():
    return build_server(
        ServerSettings(
            ws_url="ws://127.0.0.1:9",
            api_key="devkey",
            api_secret="devsecret-devsecret-devsecret-devsecret",
            agent_name="health-test",
            num_idle_processes=0,
            port=0,
        )
    )


async def _status(port: int) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/") as response,
    ):
        return response.status, await response.text()


async def test_health_is_503_until_registered_then_200(caplog):
    server = _server()
    assert server.id == "unregistered" and not is_registered(server)
    health = server.health
    health.host = "127.0.0.1"
    await health.start()
    try:
        assert await _status(health.port) == (503, "not registered with LiveKit")
        caplog.set_level(logging.INFO, logger="worker")
        status = asyncio.create_task(log_status(server, 0.01))
        await asyncio.sleep(0.05)
        assert "worker status: not registered (connecting)" in caplog.text
        assert "worker status: registered" not in caplog.text
        # What livekit-agents does when the registration response arrives.
        server._id = "AW_test123"
        server.emit("worker_registered", "AW_test123", None)
        assert await _status(health.port) == (200, "OK")
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{health.port}/worker") as response,
        ):
            info = await response.json()
        assert info["agent_name"] == "health-test" and info["worker_id"] == "AW_test123"
        assert info["registered"] is True
        await asyncio.sleep(0.05)
        status.cancel()
        assert "worker status: registered, 0 active job(s)" in caplog.text
        server._connection_failed = True  # gave up reconnecting
        assert (await _status(health.port))[0] == 503
    finally:
        await health.aclose()
