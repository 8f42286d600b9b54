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


class FakeVoiceSession(FakeSession):
    def __init__(self) -> None:
        super().__init__()
        self.handlers: dict = {}
        self.said: list[str] = []
        self.interrupted = False

    def on(self, event: str, handler) -> None:
        self.handlers[event] = handler

    def interrupt(self) -> None:
        self.interrupted = True

    def say(self, text: str, *, allow_interruptions: bool):
        self.said.append(text)

        class Handle:
            async def wait_for_playout(self) -> None:
                return None

        return Handle()


def transcript(text: str, final: bool = True):
    from livekit.agents.voice.events import UserInputTranscribedEvent

    return UserInputTranscribedEvent(transcript=text, is_final=final)


@pytest.mark.asyncio
@pytest.mark.parametrize(("action", "said"), [("hang_up", []), ("leave_message", ["Hi, call us."])])
async def test_an_answering_machine_gets_the_configured_action(action, said):
    from worker.telephony import VoicemailDetector

    session = FakeVoiceSession()
    detected: list[bool] = []

    async def on_detected() -> None:
        detected.append(True)

    detector = VoicemailDetector(
        session, action=action, message="Hi, call us.", on_detected=on_detected
    ).attach()
    handler = session.handlers["user_input_transcribed"]
    handler(transcript("Hello, you have reached", final=False))
    handler(transcript("Hi, you've reached Ana. Please leave a message after the tone."))
    await detector.task
    assert detected == [True] and session.interrupted and session.said == said


@pytest.mark.asyncio
async def test_a_person_is_not_voicemail_and_ignore_listens_to_nothing():
    from worker.telephony import VoicemailDetector, looks_like_voicemail

    assert not looks_like_voicemail("Hello? Who is this?")
    session = FakeVoiceSession()

    async def on_detected() -> None:
        raise AssertionError("not voicemail")

    detector = VoicemailDetector(session, action="hang_up", message="", on_detected=on_detected)
    detector.attach()
    session.handlers["user_input_transcribed"](transcript("Hello? Who is this?"))
    assert detector.task is None
    ignoring = FakeVoiceSession()
    VoicemailDetector(ignoring, action="ignore", message="", on_detected=on_detected).attach()
    assert ignoring.handlers == {}
