"""Inbound phone calls in the job: find the SIP caller, claim the session, or say no.

A call's job is dispatched by the number's SIP dispatch rule with the metadata
``{"kind": "inbound_call", "phone_number_id": ...}`` and no session yet. The job waits for the
SIP participant, reads its ``sip.phoneNumber`` (caller) and ``sip.trunkPhoneNumber`` (number
called) attributes and asks ``sessions_app.telephony.services.inbound_call_start`` for a session
under the tenant's quotas; over quota it says the number's configured message and hangs up.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections

logger = logging.getLogger("worker")

INBOUND_KIND = "inbound_call"
CALLER_ATTRIBUTE = "sip.phoneNumber"
CALLED_ATTRIBUTE = "sip.trunkPhoneNumber"
CALLER_HUNG_UP_REASON = "caller hung up"
"""A phone session's end reason when the SIP participant left (livekit: participant
disconnected)."""


def call_end_reason(reason: str, *, phone: bool, transferred_to: str = "") -> str:
    """The session's end reason: on a phone call the participant leaving is a hang-up, or
    the end of the agent's part after a transfer."""
    if not phone or reason != "participant disconnected":
        return reason
    return f"transferred to {transferred_to}" if transferred_to else CALLER_HUNG_UP_REASON


def inbound_metadata(ctx: Any) -> dict[str, Any]:
    """The dispatch metadata of an inbound call's job (or, as fallback, the metadata of the
    room the dispatch rule created), or {} for any other job."""
    room = getattr(ctx.job, "room", None)
    for raw in (ctx.job.metadata, getattr(room, "metadata", "")):
        try:
            data = json.loads(raw or "{}")
        except (TypeError, ValueError):
            continue
        if isinstance(data, dict) and data.get("kind") == INBOUND_KIND:
            return data
    return {}


def sip_numbers(attributes: dict[str, str]) -> tuple[str, str]:
    """(caller, number called) from a SIP participant's attributes."""
    return attributes.get(CALLER_ATTRIBUTE, ""), attributes.get(CALLED_ATTRIBUTE, "")


def _claim(
    phone_number_id: int, caller: str, called: str, room_name: str, identity: str = ""
) -> tuple[str, str]:
    from sessions_app.telephony.services import inbound_call_start

    close_old_connections()
    decision = inbound_call_start(
        phone_number_id=phone_number_id,
        caller_number=caller,
        trunk_number=called,
        room_name=room_name,
        participant_identity=identity,
    )
    return (str(decision.session.pk) if decision.session else "", decision.reject_message)


claim = sync_to_async(_claim, thread_sensitive=True)


def _rejection_document(phone_number_id: int) -> tuple[int | None, dict[str, Any] | None]:
    """The tenant and the agent's live document, so the rejection is said in its voice."""
    from sessions_app.telephony.models import PhoneNumber

    close_old_connections()
    phone = PhoneNumber.objects.select_related("agent__published_version").filter(
        pk=phone_number_id
    )
    found = phone.first()
    if found is None or found.agent.published_version is None:
        return None, None
    return found.tenant_id, found.agent.published_version.document


async def say_and_hang_up(ctx: Any, message: str, phone_number_id: int) -> None:
    """Speak ``message`` with the agent's TTS, then delete the room (the call hangs up)."""
    from livekit.agents import Agent

    from agents_config.contracts import parse_document
    from agents_config.providers import ProviderKeys
    from worker import store
    from worker.factory import AgentFactory

    try:
        tenant_id, raw = await sync_to_async(_rejection_document, thread_sensitive=True)(
            phone_number_id
        )
        if raw is not None:
            keys = await store.provider_keys(tenant_id)
            factory = AgentFactory(
                document=parse_document(raw),
                keys=ProviderKeys.from_keys(keys),
                vad=ctx.proc.userdata.get("vad"),
            )
            session = factory.build_session()
            await session.start(agent=Agent(instructions="Say the message."), room=ctx.room)
            handle = session.say(message, allow_interruptions=False)
            await handle.wait_for_playout()
            await session.aclose()
    except Exception:
        logger.exception("could not say the rejection message")
    await ctx.delete_room()
    ctx.shutdown("call rejected")


async def answer_inbound_call(
    ctx: Any,
    metadata: dict[str, Any],
    *,
    reject: Callable[[Any, str, int], Awaitable[None]] = say_and_hang_up,
) -> str | None:
    """The session id for this call, or None once the caller has been told no and hung up."""
    from livekit import rtc

    await ctx.connect()
    participant = await ctx.wait_for_participant(kind=rtc.ParticipantKind.PARTICIPANT_KIND_SIP)
    caller, called = sip_numbers(dict(participant.attributes))
    phone_number_id = int(metadata["phone_number_id"])
    identity = str(getattr(participant, "identity", "") or "")
    session_id, message = await claim(phone_number_id, caller, called, ctx.room.name, identity)
    if session_id:
        return session_id
    logger.info("inbound call from %s to %s rejected: %s", caller, called, message)
    await reject(ctx, message, phone_number_id)
    return None


# --- DTMF: the caller's keypad presses reach the LLM as text ---

DTMF_PAUSE_SECONDS = 1.5
"""Digits pressed with shorter gaps than this are sent together (e.g. a PIN, then '#')."""


def keypad_text(digits: list[str]) -> str:
    """The user turn the LLM sees for keypad presses."""
    return f"[The caller pressed on the keypad: {' '.join(digits)}]"


class DtmfRelay:
    """Collects ``sip_dtmf_received`` digits and, after a short pause, asks the agent session
    for a reply with them as the user's input."""

    def __init__(self, session: Any, *, pause_seconds: float = DTMF_PAUSE_SECONDS):
        self._session = session
        self._pause = pause_seconds
        self._digits: list[str] = []
        self._timer: Any = None

    def attach(self, room: Any) -> DtmfRelay:
        room.on("sip_dtmf_received", self.on_dtmf)
        return self

    def on_dtmf(self, dtmf: Any) -> None:
        import asyncio

        self._digits.append(str(dtmf.digit))
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self._pause, self.flush)

    def flush(self) -> None:
        self._timer = None
        if not self._digits:
            return
        text = keypad_text(self._digits)
        self._digits = []
        logger.info("relaying DTMF to the agent: %s", text)
        self._session.generate_reply(user_input=text)


# --- DTMF: the agent presses keys (the ``send_dtmf`` tool) ---

DTMF_DIGIT_GAP_SECONDS = 0.3
"""Between two tones (livekit-agents' own ``send_dtmf_events`` waits as long)."""
DTMF_PAUSE_CHARACTER = "w"
DTMF_PAUSE_SECONDS = 0.5
"""What ``w`` waits (the usual dial-string meaning, as in LiveKit's and Twilio's ``dtmf``)."""


DTMF_CODES = {
    **{str(n): n for n in range(10)},
    "*": 10,
    "#": 11,
    **{key: 12 + n for n, key in enumerate("ABCD")},
}
"""RFC 4733 event codes of the keys (what livekit-agents' beta ``dtmf_event_to_code`` maps;
not imported: its module loads all of ``livekit.agents.beta``)."""


def dtmf_code(digit: str) -> int:
    return DTMF_CODES[digit]


def phone_participant(room: Any) -> Any:
    """The room's SIP participant (the phone caller or callee), or None."""
    from livekit import rtc

    for participant in list(room.remote_participants.values()):
        if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_SIP:
            return participant
    return None


class DtmfSender:
    """Sends keypad tones into the call with ``LocalParticipant.publish_dtmf``; LiveKit's SIP
    service plays them on the phone line. Only rooms with a SIP participant have a line."""

    def __init__(
        self,
        room: Any,
        *,
        gap_seconds: float = DTMF_DIGIT_GAP_SECONDS,
        pause_seconds: float = DTMF_PAUSE_SECONDS,
    ):
        self._room = room
        self._gap = gap_seconds
        self._pause = pause_seconds

    async def send(self, digits: str) -> str:
        import asyncio
        import re

        from livekit.agents import ToolError

        from agents_config.contracts import DTMF_DIGITS_PATTERN

        if not re.fullmatch(DTMF_DIGITS_PATTERN, digits):
            raise ToolError("digits may only be 0-9, *, #, A-D and w (a pause)")
        if phone_participant(self._room) is None:
            raise ToolError(
                "keypad tones only work on phone calls; nobody in this conversation is on "
                "a phone line"
            )
        sent: list[str] = []
        for position, digit in enumerate(digits):
            if digit == DTMF_PAUSE_CHARACTER:
                await asyncio.sleep(self._pause)
                continue
            if position and digits[position - 1] != DTMF_PAUSE_CHARACTER:
                await asyncio.sleep(self._gap)
            try:
                await self._room.local_participant.publish_dtmf(code=dtmf_code(digit), digit=digit)
            except Exception as exc:  # noqa: BLE001 - the model hears how far it got
                logger.warning("could not send DTMF %r: %s", digit, exc)
                done = " ".join(sent) or "none"
                raise ToolError(f"the keypad tones failed after {done}") from None
            sent.append(digit)
        logger.info("sent DTMF to the phone line: %s", " ".join(sent))
        return f"Pressed {' '.join(sent)} on the keypad." if sent else "Waited; no key pressed."


# --- Voicemail: an answering machine picked up an outbound call ---

VOICEMAIL_PHRASES = (
    "leave a message",
    "leave your message",
    "after the tone",
    "after the beep",
    "is not available",
    "voicemail",
    "voice mail",
    "mailbox",
)
"""Greeting phrases of answering machines (matched in the first final transcripts)."""
VOICEMAIL_LISTEN_TURNS = 2


def looks_like_voicemail(transcript: str, phrases: tuple[str, ...] = VOICEMAIL_PHRASES) -> bool:
    text = " ".join(transcript.lower().split())
    return any(phrase in text for phrase in phrases)


class VoicemailDetector:
    """Watches the callee's first final transcripts; on an answering machine, does the call's
    configured action (hang up, or leave the message first) and reports it."""

    def __init__(
        self,
        session: Any,
        *,
        action: str,
        message: str,
        on_detected: Callable[[], Awaitable[None]],
    ):
        self._session = session
        self._action = action
        self._message = message
        self._on_detected = on_detected
        self._heard = 0
        self.task: Any = None

    def attach(self) -> VoicemailDetector:
        if self._action != "ignore":
            self._session.on("user_input_transcribed", self.on_transcript)
        return self

    def on_transcript(self, event: Any) -> None:
        import asyncio

        if not event.is_final or self.task is not None or self._heard >= VOICEMAIL_LISTEN_TURNS:
            return
        self._heard += 1
        if looks_like_voicemail(event.transcript):
            self.task = asyncio.get_running_loop().create_task(self._act())

    async def _act(self) -> None:
        self._session.interrupt()
        if self._action == "leave_message" and self._message:
            handle = self._session.say(self._message, allow_interruptions=False)
            await handle.wait_for_playout()
        await self._on_detected()


def voicemail_settings(session_id: str) -> tuple[str, str] | None:
    """(voicemail action, message) of a phone session, or None for other sessions (sync)."""
    from sessions_app.telephony.models import CallDirection, PhoneCall

    call = PhoneCall.objects.filter(session_id=session_id).first()
    if call is None:
        return None
    if call.direction == CallDirection.INBOUND:
        return "ignore", ""
    return call.voicemail_action, call.voicemail_message


def _call_settings(session_id: str) -> tuple[str, str] | None:
    close_old_connections()
    return voicemail_settings(session_id)


call_settings = sync_to_async(_call_settings, thread_sensitive=True)


def _record_voicemail(session_id: str) -> bool:
    from sessions_app.models import Session
    from sessions_app.telephony.services import call_voicemail

    close_old_connections()
    session = Session.objects.select_related("tenant").filter(pk=session_id).first()
    return session is not None and call_voicemail(session=session)


record_voicemail = sync_to_async(_record_voicemail, thread_sensitive=True)
