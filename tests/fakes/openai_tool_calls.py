"""Tool-call replies for the fake OpenAI server (``tests.fakes.openai_server``).

A stop-gap for the handoff and MCP tests until the fake itself streams tool calls (the tools
work extends ``openai_server.Reply`` with ``tool_calls``; the names here match it, so the
tests switch by changing their import). ``ToolCallingOpenAI`` answers a queued
:class:`ToolCallReply` with real ``delta.tool_calls`` chunks: id and name first, then the
arguments' JSON in pieces, then ``finish_reason: "tool_calls"``; anything else as before.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.openai_server import FakeOpenAI, Reply


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any] | str = "{}"
    id: str = ""
    argument_chunk: int = 7

    def arguments_json(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclass
class ToolCallReply(Reply):
    tool_calls: tuple[ToolCall, ...] = ()


def tool_call_reply(name: str, arguments: dict[str, Any] | str = "{}", **kwargs: Any) -> Reply:
    """A reply that only calls one tool (what a model does before it answers)."""
    return ToolCallReply("", tool_calls=(ToolCall(name, arguments, **kwargs),))


def tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``role: tool`` messages of a chat request (tool results the model is shown)."""
    return [m for m in body.get("messages", []) if m.get("role") == "tool"]


def _event(delta: dict[str, Any], finish: str | None = None) -> bytes:
    payload = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "fake-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload)}\n\n".encode()


class ToolCallingOpenAI(FakeOpenAI):
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        base = super()._handler()
        fake = self

        class Handler(base):  # type: ignore[misc, valid-type]
            def _chat(self, body: dict[str, Any]) -> None:
                reply = fake._next_reply(body)
                if not isinstance(reply, ToolCallReply):
                    with fake._lock:
                        fake.replies.appendleft(reply)
                    super()._chat(body)
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                if reply.text:
                    self._send_chunked(_event({"role": "assistant", "content": reply.text}))
                for position, call in enumerate(reply.tool_calls):
                    call_id = call.id or f"call_fake_{len(fake.chat_requests)}_{position}"
                    self._send_chunked(
                        _event(
                            {
                                "role": "assistant",
                                "tool_calls": [
                                    {
                                        "index": position,
                                        "id": call_id,
                                        "type": "function",
                                        "function": {"name": call.name, "arguments": ""},
                                    }
                                ],
                            }
                        )
                    )
                    arguments = call.arguments_json()
                    step = max(1, call.argument_chunk)
                    for start in range(0, len(arguments), step):
                        piece = arguments[start : start + step]
                        self._send_chunked(
                            _event(
                                {
                                    "tool_calls": [
                                        {"index": position, "function": {"arguments": piece}}
                                    ]
                                }
                            )
                        )
                self._send_chunked(_event({}, "tool_calls"))
                self._send_chunked(b"data: [DONE]\n\n")
                self._send_chunked(b"")

        return Handler
