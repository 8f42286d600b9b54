"""Where finished structured turns go for the frontend: the LiveKit room, or memory.

Publishers receive the turn message already stripped of hidden fields (``turn_message``);
they never see the full structured output.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from sessions_app.livekit import TURN_TOPIC

if TYPE_CHECKING:
    from livekit import rtc

logger = logging.getLogger(__name__)


class TurnPublisher(Protocol):
    async def publish(self, message: dict[str, Any]) -> None: ...


def encode_message(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)


class RoomTurnPublisher:
    """Sends each turn to the room on ``llm-structured-response``: as a reliable data packet
    (``room.registerDataReceived`` / ``RoomEvent.DataReceived`` with that topic) and as a text
    stream (``registerTextStreamHandler(topic)``), so either kind of client can read it."""

    def __init__(self, room: rtc.Room, *, text_stream: bool = True) -> None:
        self._room = room
        self._text_stream = text_stream

    async def publish(self, message: dict[str, Any], *, topic: str = TURN_TOPIC) -> None:
        payload = encode_message(message)
        participant = self._room.local_participant
        try:
            await participant.publish_data(payload, reliable=True, topic=topic)
            if self._text_stream:
                await participant.send_text(payload, topic=topic)
        except Exception:  # a lost frontend message must not end the conversation
            logger.exception("could not publish a %s message to the room", topic)


class MemoryTurnPublisher:
    """Keeps published messages in a list (text mode, tests, the bench); optional callback."""

    def __init__(self, on_message: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.messages: list[dict[str, Any]] = []
        self._on_message = on_message

    async def publish(self, message: dict[str, Any]) -> None:
        # What a room client would receive: the JSON round trip, not the Python object.
        decoded = json.loads(encode_message(message))
        self.messages.append(decoded)
        if self._on_message is not None:
            self._on_message(decoded)
