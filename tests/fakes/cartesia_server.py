"""A fake Cartesia TTS API on 127.0.0.1 speaking the real wire format.

- ``GET /tts/websocket?cartesia_version=...`` (websocket, ``X-API-Key`` header): each text
  message is a generation request ``{"model_id", "voice", "output_format", "transcript",
  "context_id", "continue", ...}``; for every non-blank transcript the server sends
  ``{"type": "chunk", "data": <base64 pcm_s16le>, "context_id", "done": false}`` and, when
  ``add_timestamps`` is set, ``{"type": "timestamps", "word_timestamps": {...}}``; after the
  request with ``"continue": false`` it sends ``{"type": "done", "done": true, "context_id"}``.
- ``POST /tts/bytes`` (``X-API-Key`` and ``Cartesia-Version`` headers): the raw PCM bytes.

Every request is recorded (``ws_messages``, ``bytes_requests``, ``ws_headers``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from typing import Any

from aiohttp import WSMsgType, web


class FakeCartesia:
    def __init__(self, *, audio_seconds: float = 0.05) -> None:
        self.audio_seconds = audio_seconds
        self.ws_messages: list[dict[str, Any]] = []
        self.ws_headers: list[dict[str, str]] = []
        self.ws_connections = 0
        self.bytes_requests: list[dict[str, Any]] = []
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def _pcm(self, sample_rate: int) -> bytes:
        return b"\x00\x00" * int(sample_rate * self.audio_seconds)

    def _authorized(self, request: web.Request) -> bool:
        return bool(request.headers.get("X-API-Key"))

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"error": "missing X-API-Key"}, status=401)
        if not request.query.get("cartesia_version"):
            return web.json_response({"error": "cartesia_version is required"}, status=400)
        self.ws_connections += 1
        self.ws_headers.append(dict(request.headers))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            self.ws_messages.append(data)
            context_id = data.get("context_id")
            transcript = data.get("transcript", "")
            rate = data.get("output_format", {}).get("sample_rate", 24000)
            if transcript.strip():
                audio = base64.b64encode(self._pcm(rate)).decode()
                await ws.send_json(
                    {
                        "type": "chunk",
                        "data": audio,
                        "done": False,
                        "status_code": 206,
                        "step_time": 1.0,
                        "context_id": context_id,
                    }
                )
                if data.get("add_timestamps"):
                    words = transcript.split()
                    step = self.audio_seconds / max(1, len(words))
                    await ws.send_json(
                        {
                            "type": "timestamps",
                            "done": False,
                            "status_code": 206,
                            "context_id": context_id,
                            "word_timestamps": {
                                "words": words,
                                "start": [i * step for i in range(len(words))],
                                "end": [(i + 1) * step for i in range(len(words))],
                            },
                        }
                    )
            if data.get("continue") is False:
                await ws.send_json(
                    {"type": "done", "done": True, "status_code": 200, "context_id": context_id}
                )
        return ws

    async def _bytes(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request) or not request.headers.get("Cartesia-Version"):
            return web.json_response({"error": "unauthorized"}, status=401)
        body = await request.json()
        self.bytes_requests.append(body)
        rate = body.get("output_format", {}).get("sample_rate", 24000)
        return web.Response(body=self._pcm(rate), content_type="application/octet-stream")

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/tts/websocket", self._websocket)
        app.router.add_post("/tts/bytes", self._bytes)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def __enter__(self) -> FakeCartesia:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
