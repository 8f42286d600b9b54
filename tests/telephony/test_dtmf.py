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


# --- the agent presses keys: the ``send_dtmf`` tool (text mode, the real OpenAI plugin) ---


def phone_room(kind=rtc.ParticipantKind.PARTICIPANT_KIND_SIP):
    """An autospec of ``rtc.Room`` (``publish_dtmf``'s real signature is enforced) with one
    remote participant of ``kind``; also an event emitter for ``sip_dtmf_received``."""
    from unittest.mock import create_autospec

    room = create_autospec(rtc.Room, instance=True)
    room.local_participant = create_autospec(rtc.LocalParticipant, instance=True)
    caller = create_autospec(rtc.RemoteParticipant, instance=True)
    caller.identity, caller.kind = "sip_+33600000001", kind
    room.remote_participants = {"PA_caller": caller}
    emitter = rtc.EventEmitter()
    room.on.side_effect = emitter.on
    room.emit = emitter.emit
    return room


def sent_tones(room) -> list[tuple[int, str]]:
    return [
        (c.kwargs["code"], c.kwargs["digit"])
        for c in room.local_participant.publish_dtmf.await_args_list
    ]


PRESS_KEYS = {
    "kind": "send_dtmf",
    "name": "press_keys",
    "description": "Press keys on the phone line, e.g. to choose a menu option.",
}


@pytest.fixture
def fake_openai():
    from tests.fakes.openai_server import FakeOpenAI

    with FakeOpenAI() as server:
        yield server


def dtmf_conversation(fake_openai, room, **kwargs):
    from agents_config.contracts import parse_document
    from agents_config.factories import agent_document
    from agents_config.providers import ProviderKeys
    from worker.telephony import DtmfSender
    from worker.textmode import TextConversation
    from worker.tools import ToolEnvironment

    raw = agent_document()
    raw["llm_config"] = {**raw["llm_config"], "base_url": fake_openai.base_url}
    raw["tools_config"] = {"tools": [PRESS_KEYS], "filler_after_seconds": None}
    env = ToolEnvironment(session_id="call-1")
    if room is not None:
        env.send_dtmf = DtmfSender(room, gap_seconds=0, pause_seconds=0).send
    return TextConversation(
        document=parse_document(raw),
        version="1.0.0",
        keys=ProviderKeys(openai="sk-test"),
        tool_env=env,
        **kwargs,
    )


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_agent_presses_keys_on_the_phone_line_and_the_turn_records_it(fake_openai):
    from tests.fakes.openai_server import tool_call_reply, tool_messages
    from tests.worker.conftest import demo_turn

    room = phone_room()
    fake_openai.add(
        tool_call_reply("press_keys", {"digits": "12w#D"}), demo_turn("I chose option one.")
    )
    async with dtmf_conversation(fake_openai, room) as chat:
        record = await chat.say("Press one, two, pause, then pound and D.")
    assert sent_tones(room) == [(1, "1"), (2, "2"), (11, "#"), (15, "D")]
    [call] = record.tool_calls
    assert (call["name"], call["kind"], call["status"]) == ("press_keys", "send_dtmf", "ok")
    assert call["arguments"] == {"digits": "12w#D"}
    assert call["result"] == "Pressed 1 2 # D on the keypad."
    first, second = fake_openai.chat_requests
    [schema] = first["tools"]
    assert schema["function"]["parameters"]["properties"]["digits"]["pattern"] == (
        "^[0-9*#A-Dw]{1,64}$"
    )
    assert tool_messages(second)[0]["content"] == "Pressed 1 2 # D on the keypad."
    assert record.spoken_text == "I chose option one."


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("room", "arguments", "fragment"),
    [
        (None, {"digits": "1"}, "only works on phone calls"),  # text mode: no room at all
        (
            phone_room(rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD),  # a browser user
            {"digits": "1"},
            "nobody in this conversation is on a phone line",
        ),
        (phone_room(), {"digits": "12x"}, "invalid arguments for press_keys"),
        (phone_room(), {"digits": ""}, "invalid arguments for press_keys"),
    ],
)
async def test_keypad_tones_are_a_clear_tool_error_off_the_phone_or_with_bad_keys(
    fake_openai, room, arguments, fragment
):
    from tests.fakes.openai_server import tool_call_reply, tool_messages
    from tests.worker.conftest import demo_turn

    fake_openai.add(tool_call_reply("press_keys", arguments), demo_turn("I cannot do that."))
    async with dtmf_conversation(fake_openai, room) as chat:
        record = await chat.say("Press one.")
    [call] = record.tool_calls
    assert call["status"] == "error" and fragment in call["result"], call
    assert fragment in tool_messages(fake_openai.chat_requests[1])[0]["content"]
    if room is not None:
        assert sent_tones(room) == []
    assert record.spoken_text == "I cannot do that."


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_dtmf_both_ways_in_text_mode(fake_openai):
    """The caller's keypad presses reach the LLM as text; the agent answers with tones."""
    from tests.fakes.openai_server import last_user_message, tool_call_reply
    from tests.worker.conftest import demo_turn

    room = phone_room()
    fake_openai.add(
        tool_call_reply("press_keys", {"digits": "9"}), demo_turn("Connecting you to option 9.")
    )
    async with dtmf_conversation(fake_openai, room) as chat:
        DtmfRelay(chat.session, pause_seconds=0.01).attach(room)
        for digit, code in (("4", 4), ("2", 2), ("#", 11)):
            room.emit("sip_dtmf_received", rtc.SipDTMF(code=code, digit=digit))
        for _ in range(500):
            if chat.agent.turns.records:
                break
            await asyncio.sleep(0.02)
        await chat.flush()
        [record] = chat.agent.turns.records
    assert last_user_message(fake_openai.chat_requests[0]) == keypad_text(["4", "2", "#"])
    assert record.user_text == "[The caller pressed on the keypad: 4 2 #]"
    assert sent_tones(room) == [(9, "9")]
    assert record.tool_calls[0]["result"] == "Pressed 9 on the keypad."
    assert record.spoken_text == "Connecting you to option 9."


def test_send_dtmf_declares_no_parameters_of_its_own():
    from agents_config.contracts import ContractError, parse_section

    with pytest.raises(ContractError) as caught:
        parse_section(
            "tools_config",
            {"tools": [{**PRESS_KEYS, "parameters": [{"field_name": "x", "field_type": "str"}]}]},
        )
    assert "declare none" in str(caught.value.errors)
    config = parse_section("tools_config", {"tools": [PRESS_KEYS]})
    assert config.tools[0].compile_parameters().validate_output({"digits": "0*#ABCDw"}).ok


@pytest.mark.asyncio
async def test_a_failed_tone_tells_the_model_how_far_it_got():
    from livekit.agents import ToolError
    from livekit.rtc.participant import PublishDTMFError

    from worker.telephony import DtmfSender

    room = phone_room()
    room.local_participant.publish_dtmf.side_effect = [None, PublishDTMFError("no SIP bridge")]
    with pytest.raises(ToolError) as caught:
        await DtmfSender(room, gap_seconds=0, pause_seconds=0).send("12")
    assert caught.value.message == "the keypad tones failed after 1"
    assert await DtmfSender(room, gap_seconds=0, pause_seconds=0).send("ww") == (
        "Waited; no key pressed."
    )
