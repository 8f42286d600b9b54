"""A fake OpenAI-compatible server on 127.0.0.1 speaking the real wire format.

- ``POST /v1/chat/completions`` with ``stream: true``: ``text/event-stream`` of
  ``chat.completion.chunk`` objects, then ``data: [DONE]``. Replies are scripted: a queue of
  :class:`Reply` (or strings), or a function of the request body; an optional per-token delay.
  With a delay, tokens keep the model's pace (:class:`DecodeClock`), and the ``finish_reason``
  chunk comes one step after the last content: a real model ends its reply by generating a
  stop token, one decode step like any other, so a client learns that the text has ended one
  token after its last word.
  ``Reply(status=500)`` answers with an error instead. ``Reply(tool_calls=(ToolCall(...),))``
  streams real ``delta.tool_calls`` chunks (id and name first, the arguments split over
  several chunks, ``finish_reason: "tool_calls"``) after any text.
- ``POST /v1/audio/speech``: raw 24 kHz 16-bit mono PCM (``audio/pcm``), what the OpenAI TTS
  plugin asks for with ``response_format="pcm"``; one non-streaming body per request.
- ``POST /v1/audio/transcriptions`` (multipart upload): ``{"text": transcript}``.

Every request body is recorded (``chat_requests``, ``speech_requests``), with its arrival time.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PCM_SAMPLE_RATE = 24_000


class DecodeClock:
    """The pace of a model's decode steps: step ``n`` goes out at ``start + n * delay``.

    A real model's pace does not depend on its client. This fake runs in the client's process
    (benches, tests), so a sleep per step would come back late whenever the client holds the
    GIL, and that lateness would add up over a reply: a longer reply would look slower per
    token. Sleeping until each step's due time keeps the pace of the real thing."""

    def __init__(
        self,
        delay: float,
        *,
        now: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.delay = delay
        self._now = now
        self._sleep = sleep
        self.restart()

    def restart(self) -> None:
        """Steps from now on (after a test's hold) are due a ``delay`` apart from now."""
        self.due = self._now()

    def step(self) -> None:
        if self.delay:
            self.due += self.delay
            self._sleep(max(0.0, self.due - self._now()))


@dataclass
class ToolCall:
    """A function call the fake model makes; ``arguments`` is sent as JSON text, in pieces."""

    name: str
    arguments: dict[str, Any] | str = "{}"
    id: str = ""
    argument_chunk: int = 7
    """Characters of the arguments' JSON per chunk."""

    def arguments_json(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    token_size: int = 4
    token_delay: float | None = None
    token_sizes: tuple[int, ...] = ()
    """Cycled token lengths (e.g. ``(3, 5, 4, 6)``); ``token_size`` when empty."""
    prompt_tokens: int = 10
    completion_tokens: int = 10
    cached_tokens: int = 0
    """Reported in the final ``usage`` chunk (sent as with ``stream_options.include_usage``)."""
    hold_at: int | None = None
    """Stop streaming once this many characters are sent, until ``release`` is set."""
    release: threading.Event | None = None
    tool_calls: tuple[ToolCall, ...] = ()


ReplyScript = Callable[[dict[str, Any]], "Reply | str"]


def last_user_message(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
            return content or ""
    return ""


def tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``role: tool`` messages of a chat request (tool results the model is shown)."""
    return [m for m in body.get("messages", []) if m.get("role") == "tool"]


def tool_call_reply(name: str, arguments: dict[str, Any] | str = "{}", **kwargs: Any) -> Reply:
    """A reply that only calls one tool (what a model does before it answers)."""
    return Reply("", tool_calls=(ToolCall(name, arguments, **kwargs),))


class FakeOpenAI:
    def __init__(self, *, token_delay: float = 0.0, audio_seconds: float = 0.1) -> None:
        self.token_delay = token_delay
        self.audio_seconds = audio_seconds
        self.replies: deque[Reply | str] = deque()
        self.script: ReplyScript | None = None
        self.default_reply: Reply | str = Reply('{"system_response": "Okay."}')
        self.chat_requests: list[dict[str, Any]] = []
        self.speech_requests: list[dict[str, Any]] = []
        self.speech_times: list[float] = []
        self.transcript = "Hello."
        self.transcription_times: list[float] = []
        self.chat_done_times: list[float] = []
        """When each chat stream's last byte was sent."""
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.request_queue_size = 256
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def add(self, *replies: Reply | str) -> None:
        self.replies.extend(replies)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self.replies:
                reply = self.replies.popleft()
            elif self.script is not None:
                reply = self.script(body)
            else:
                reply = self.default_reply
        return Reply(reply) if isinstance(reply, str) else reply

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("content-length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                if self.path.endswith("/audio/transcriptions"):
                    self.rfile.read(int(self.headers.get("content-length") or 0))
                    with fake._lock:
                        fake.transcription_times.append(time.perf_counter())
                    self._json(200, {"text": fake.transcript})
                    return
                body = self._body()
                if self.path.endswith("/chat/completions"):
                    with fake._lock:
                        fake.chat_requests.append(body)
                    # The client may drop the stream (a barge-in, a discarded preemptive reply).
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        self._chat(body)
                elif self.path.endswith("/audio/speech"):
                    with fake._lock:
                        fake.speech_requests.append(body)
                        fake.speech_times.append(time.perf_counter())
                    self._speech()
                else:
                    self._json(404, {"error": {"message": f"unknown path {self.path}"}})

            def _speech(self) -> None:
                samples = int(PCM_SAMPLE_RATE * fake.audio_seconds)
                data = b"\x00\x00" * samples
                self.send_response(200)
                self.send_header("content-type", "audio/pcm")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _chunk(self, content: str | None, finish: str | None = None) -> bytes:
                delta = {} if content is None else {"role": "assistant", "content": content}
                payload = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": "fake-model",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
                return f"data: {json.dumps(payload)}\n\n".encode()

            def _tool_events(self, position: int, call: ToolCall) -> list[bytes]:
                """One call as OpenAI streams it: id + name, then argument pieces."""
                call_id = call.id or f"call_fake_{len(fake.chat_requests)}_{position}"
                arguments = call.arguments_json()
                step = max(1, call.argument_chunk)
                pieces = [arguments[i : i + step] for i in range(0, len(arguments), step)]
                deltas: list[dict[str, Any]] = [
                    {
                        "index": position,
                        "id": call_id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": ""},
                    }
                ]
                deltas += [{"index": position, "function": {"arguments": p}} for p in pieces]
                out: list[bytes] = []
                for delta in deltas:
                    payload = {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": "fake-model",
                        "choices": [
                            {
                                "index": 0,
                                "delta": {"role": "assistant", "tool_calls": [delta]},
                                "finish_reason": None,
                            }
                        ],
                    }
                    out.append(f"data: {json.dumps(payload)}\n\n".encode())
                return out

            def _send_chunked(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _chat(self, body: dict[str, Any]) -> None:
                reply = fake._next_reply(body)
                if reply.status != 200:
                    self._json(reply.status, {"error": {"message": "scripted failure"}})
                    return
                delay = fake.token_delay if reply.token_delay is None else reply.token_delay
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                text = reply.text
                sizes = reply.token_sizes or (reply.token_size,)
                start = index = 0
                held = False
                clock = DecodeClock(delay)
                while start < len(text):
                    if not held and reply.hold_at is not None and start >= reply.hold_at:
                        held = True
                        if reply.release is not None:
                            reply.release.wait(timeout=60)  # a test's gate; never a clock
                            clock.restart()
                    size = max(1, sizes[index % len(sizes)])
                    clock.step()
                    self._send_chunked(self._chunk(text[start : start + size]))
                    start += size
                    index += 1
                for position, call in enumerate(reply.tool_calls):
                    clock.step()
                    for event in self._tool_events(position, call):
                        self._send_chunked(event)
                finish = "tool_calls" if reply.tool_calls else "stop"
                clock.step()  # the model's stop token: one more decode step
                self._send_chunked(self._chunk(None, finish))
                usage = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": "fake-model",
                    "choices": [],
                    "usage": {
                        "prompt_tokens": reply.prompt_tokens,
                        "completion_tokens": reply.completion_tokens,
                        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
                    },
                }
                self._send_chunked(f"data: {json.dumps(usage)}\n\n".encode())
                self._send_chunked(b"data: [DONE]\n\n")
                self._send_chunked(b"")
                with fake._lock:
                    fake.chat_done_times.append(time.perf_counter())

        return Handler
