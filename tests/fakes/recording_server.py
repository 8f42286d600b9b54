"""A listener on 127.0.0.1 that records every request (method, path, headers, body) and
answers with a fixed status, optionally a redirect; for proving what was (never) sent."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingState:
    requests: list[Recorded] = field(default_factory=list)
    connections: int = 0
    status: int = 200
    location: str = ""  # with a 3xx status: where to redirect


class RecordingServer:
    def __init__(self) -> None:
        self.state = RecordingState()
        state = self.state
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                with lock:
                    state.connections += 1
                super().setup()

            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with lock:
                    state.requests.append(
                        Recorded(self.command, self.path, dict(self.headers.items()), body)
                    )
                self.send_response(state.status)
                if state.location:
                    self.send_header("Location", state.location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def do_GET(self) -> None:
                self._record()

            def do_POST(self) -> None:
                self._record()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def saw_secret(self, secret: str) -> bool:
        return any(
            secret in value for r in self.state.requests for value in [*r.headers.values()]
        ) or any(secret.encode() in r.body for r in self.state.requests)

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
