"""DTMF from the caller reaches the agent as text the LLM sees (livekit ``sip_dtmf_received``)."""

from __future__ import annotations

import asyncio

import pytest
from livekit import rtc

from worker.telephony import DtmfRelay, keypad_text


class FakeSession:
    def __init__(self) -> None:
        self.replies: list[str] = []

    def generate_reply(self, *, user_input: str) -> None:
        self.replies.append(user_input)


@pytest.mark.asyncio
async def test_digits_pressed_together_become_one_user_turn():
    session = FakeSession()
    room = rtc.EventEmitter()
    DtmfRelay(session, pause_seconds=0.05).attach(room)
    for digit, code in (("1", 1), ("2", 2), ("#", 11)):
        room.emit("sip_dtmf_received", rtc.SipDTMF(code=code, digit=digit))
        await asyncio.sleep(0.01)
    assert session.replies == []  # still within the pause
    await asyncio.sleep(0.1)
    assert session.replies == [keypad_text(["1", "2", "#"])]
    room.emit("sip_dtmf_received", rtc.SipDTMF(code=9, digit="9"))
    await asyncio.sleep(0.1)
    assert session.replies[-1] == "[The caller pressed on the keypad: 9]"
