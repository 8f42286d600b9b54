"""A local MCP server on 127.0.0.1 served by the ``mcp`` package over streamable HTTP.

Runs the SDK's own server (``mcp.server.mcpserver.MCPServer``) under uvicorn in a thread.
Tools: ``lookup_order(order_id)`` (answers ``order <id> shipped``), ``cancel_order(order_id)``
(the one a config leaves out of ``allowed_tools``) and ``slow_lookup(order_id)`` (sleeps
``slow_seconds``). Every call and every request's headers are recorded.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer


class FakeMCPServer:
    def __init__(self, *, slow_seconds: float = 2.0) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.request_headers: list[dict[str, str]] = []
        self.slow_seconds = slow_seconds
        server = MCPServer("fake-crm")
        fake = self

        @server.tool()
        def lookup_order(order_id: str) -> str:
            """Look up the status of an order by its id."""
            fake.calls.append(("lookup_order", {"order_id": order_id}))
            return f"order {order_id} shipped"

        @server.tool()
        def cancel_order(order_id: str) -> str:
            """Cancel an order."""
            fake.calls.append(("cancel_order", {"order_id": order_id}))
            return f"order {order_id} cancelled"

        @server.tool()
        async def slow_lookup(order_id: str) -> str:
            """Look up an order slowly."""
            fake.calls.append(("slow_lookup", {"order_id": order_id}))
            await anyio.sleep(fake.slow_seconds)
            return f"order {order_id} found late"

        app = server.streamable_http_app(host="127.0.0.1")

        async def recording_app(scope: dict, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                fake.request_headers.append(
                    {key.decode(): value.decode() for key, value in scope["headers"]}
                )
            await app(scope, receive, send)

        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self._server = uvicorn.Server(
            uvicorn.Config(recording_app, log_level="warning", lifespan="on")
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def __enter__(self) -> FakeMCPServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake MCP server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(5)
        self._socket.close()


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never answers (a hung MCP server)."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self.port = self._socket.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._socket.close()
