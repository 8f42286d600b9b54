"""A local webhook receiver: records every POST and answers from a script.

``state.responses`` is consumed one item per request: an HTTP status code to answer with, or
``"timeout"`` to sleep ``state.sleep_seconds`` before answering 200 (longer than the sender's
timeout). When it is empty the receiver answers ``state.default_status``. If ``secret`` is
given each request's signature is verified on arrival, as a real receiver would.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sessions_app.webhooks.services import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float
    signature_valid: bool | None = None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiverState:
    secret: str | None = None
    responses: list[int | str] = field(default_factory=list)
    default_status: int = 200
    sleep_seconds: float = 1.5
    requests: list[ReceivedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(state: WebhookReceiverState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            request = ReceivedRequest(
                path=self.path, headers=dict(self.headers), body=body, received_at=time.time()
            )
            if state.secret is not None:
                request.signature_valid = verify_signature(
                    state.secret,
                    self.headers.get(TIMESTAMP_HEADER, ""),
                    body,
                    self.headers.get(SIGNATURE_HEADER, ""),
                )
            with state.lock:
                state.requests.append(request)
                plan = state.responses.pop(0) if state.responses else state.default_status
            if plan == "timeout":
                time.sleep(state.sleep_seconds)
                plan = 200
            reply = json.dumps({"received": True}).encode()
            try:
                self.send_response(int(plan))
                if 300 <= int(plan) < 400:
                    self.send_header("Location", "http://example.com/elsewhere")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender gave up (timeout)

    return Handler


class WebhookReceiver:
    """``with WebhookReceiver(secret=...) as receiver:`` serves on ``receiver.url``."""

    def __init__(self, secret: str | None = None) -> None:
        self.state = WebhookReceiverState(secret=secret)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self.state.lock:
            return list(self.state.requests)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[ReceivedRequest]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.requests) >= count:
                return self.requests
            time.sleep(0.05)
        raise AssertionError(f"expected {count} request(s), got {len(self.requests)}")
