"""A fake tenant API on 127.0.0.1 for HTTP tools: scripted JSON replies, delays and errors.

``routes[(method, path)] = ToolReply(...)``; every request is recorded (method, path, query,
headers, JSON body) with the time it arrived and, for delayed replies, whether it completed.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class ToolReply:
    body: Any = field(default_factory=dict)
    status: int = 200
    delay: float = 0.0


@dataclass
class ToolRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    raw_path: str
    completed: bool = False
    replied_at: float | None = None
    """``perf_counter`` time the reply was written (benchmarks measure from it)."""


class FakeToolServer:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], ToolReply] = {}
        self.requests: list[ToolRequest] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeToolServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = ToolRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=json.loads(raw) if raw else None,
                    raw_path=self.path,
                )
                with fake._lock:
                    fake.requests.append(request)
                reply = fake.routes.get((self.command, parts.path), ToolReply(status=404))
                if reply.delay:
                    time.sleep(reply.delay)
                data = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                    request.replied_at = time.perf_counter()
                    request.completed = True
                except OSError:  # the client gave up (a cancelled read tool)
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815

        return Handler
