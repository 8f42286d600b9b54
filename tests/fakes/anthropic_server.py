"""A fake Anthropic Messages API on 127.0.0.1 speaking the real wire format.

``POST /v1/messages`` with ``stream: true`` answers ``text/event-stream`` with the events the
real API sends, in order: ``message_start``, ``content_block_start``, ``ping``,
``content_block_delta`` (``text_delta``) per token, ``content_block_stop``, ``message_delta``
(``stop_reason`` and output usage) and ``message_stop``. Like the real API it requires the
``x-api-key`` and ``anthropic-version`` headers (401/400 otherwise) and ``max_tokens`` in the
body. Replies are scripted as in :mod:`tests.fakes.openai_server`; request bodies and headers
are recorded.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.openai_server import Reply


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return content or ""
    return ""


class FakeAnthropic:
    def __init__(self) -> None:
        self.replies: deque[Reply | str] = deque()
        self.default_reply: Reply | str = Reply('{"system_response": "Okay."}')
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """What the Anthropic client takes as ``base_url`` (it appends ``/v1/messages``)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, *replies: Reply | str) -> None:
        self.replies.extend(replies)

    def __enter__(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_reply(self) -> Reply:
        with self._lock:
            reply = self.replies.popleft() if self.replies else self.default_reply
        return Reply(reply) if isinstance(reply, str) else reply

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _error(self, status: int, kind: str, message: str) -> None:
                data = json.dumps(
                    {"type": "error", "error": {"type": kind, "message": message}}
                ).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                # ``GET /v1/models`` (the plugin's prewarm pings it with ``limit=1``).
                if self.path.split("?")[0] != "/v1/models":
                    self._error(404, "not_found_error", f"unknown path {self.path}")
                    return
                model = {
                    "type": "model",
                    "id": "claude-haiku-4-5",
                    "display_name": "Claude Haiku 4.5",
                    "created_at": "2025-10-01T00:00:00Z",
                }
                data = json.dumps(
                    {
                        "data": [model],
                        "has_more": False,
                        "first_id": model["id"],
                        "last_id": model["id"],
                    }
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.split("?")[0] != "/v1/messages":
                    self._error(404, "not_found_error", f"unknown path {self.path}")
                    return
                with fake._lock:
                    fake.requests.append(body)
                    fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                if not self.headers.get("x-api-key"):
                    self._error(401, "authentication_error", "x-api-key header is required")
                    return
                if not self.headers.get("anthropic-version"):
                    self._error(400, "invalid_request_error", "anthropic-version is required")
                    return
                if "max_tokens" not in body or not body.get("messages"):
                    self._error(400, "invalid_request_error", "max_tokens: Field required")
                    return
                reply = fake._next_reply()
                if reply.status != 200:
                    self._error(reply.status, "api_error", "scripted failure")
                    return
                self._stream(body, reply)

            def _event(self, name: str, payload: dict[str, Any]) -> None:
                data = f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _stream(self, body: dict[str, Any], reply: Reply) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.send_header("request-id", "req_fake")
                self.end_headers()
                self._event(
                    "message_start",
                    {
                        "type": "message_start",
                        "message": {
                            "id": "msg_fake",
                            "type": "message",
                            "role": "assistant",
                            "content": [],
                            "model": body.get("model", "claude-fake"),
                            "stop_reason": None,
                            "stop_sequence": None,
                            "usage": {"input_tokens": 12, "output_tokens": 1},
                        },
                    },
                )
                self._event(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
                self._event("ping", {"type": "ping"})
                size = max(1, reply.token_size)
                for start in range(0, len(reply.text), size):
                    self._event(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": {
                                "type": "text_delta",
                                "text": reply.text[start : start + size],
                            },
                        },
                    )
                self._event("content_block_stop", {"type": "content_block_stop", "index": 0})
                self._event(
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                        "usage": {"output_tokens": max(1, len(reply.text) // 4)},
                    },
                )
                self._event("message_stop", {"type": "message_stop"})
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        return Handler
