"""An inbound phone call through the real job runtime (livekit-agents ``simulate_job``, thread
executor so the test reaches livekit's simulated room): the SIP participant's attributes ->
a session under the quotas with the caller's number -> the agent talks, hears the caller's
keypad, presses keys itself, transfers the call against the fake LiveKit SIP server -> the
caller hangs up -> the session ends with the reason."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from livekit import rtc
from livekit.protocol import models

from sessions_app.models import Session, SessionStatus, SessionTransition, Turn
from sessions_app.telephony import services
from sessions_app.telephony.models import CallStatus, PhoneCall
from tests.fakes.openai_server import last_user_message, tool_call_reply
from tests.worker.conftest import demo_turn, fake_openai, job_env  # noqa: F401 - fixtures
from tests.worker.test_worker_job import wait_for
from worker.store import close_connections
from worker.telephony import keypad_text

pytestmark = pytest.mark.django_db(transaction=True)

NUMBER = "+14155550100"
CALLER = "+33600000001"
CALLER_IDENTITY = f"sip_{CALLER}"  # LiveKit names an inbound SIP participant
ROOM = f"va-call-_{CALLER}_Xy12"
TRANSFER_TO = "+14155550111"
TOOLS = [
    {"kind": "send_dtmf", "name": "press_keys", "description": "Press keys on the line."},
    {
        "kind": "transfer_call",
        "name": "to_sales",
        "description": "Hand the caller to a salesperson.",
        "phone_number": TRANSFER_TO,
    },
]


def phone_agent(tenant):
    from agents_config.factories import agent_document, make_agent
    from agents_config.services import agent_publish

    raw = agent_document(agent_id="front-line")
    raw["tools_config"] = {"tools": TOOLS, "filler_after_seconds": None}
    raw["prompt_config"] = {**raw["prompt_config"], "first_message": {"mode": "generate"}}
    agent = make_agent(tenant=tenant, **raw)
    agent_publish(agent=agent, version="1.0.0")
    agent.refresh_from_db()
    return agent


@contextlib.asynccontextmanager
async def inbound_call_job(metadata: dict[str, Any]) -> AsyncIterator[Any]:
    """Run our AgentServer (thread executor) and dispatch one call's job into livekit's
    simulated room, whose remote participant is made a SIP caller (restored afterwards: the
    simulated room is cached for every in-process job)."""
    from livekit.agents import JobExecutorType
    from livekit.agents.ipc.mock_room import create_mock_room

    from worker.server import ServerSettings, build_server

    room = create_mock_room()
    caller = next(iter(room.remote_participants.values()))
    saved = {
        name: getattr(caller, name)
        for name in ("identity", "kind", "attributes", "metadata", "disconnect_reason")
    }
    saved_name = room.name
    room.name = ROOM
    caller.identity = CALLER_IDENTITY
    caller.kind = rtc.ParticipantKind.PARTICIPANT_KIND_SIP
    caller.attributes = {"sip.phoneNumber": CALLER, "sip.trunkPhoneNumber": NUMBER}
    caller.metadata = json.dumps(metadata)  # the dispatch rule's metadata
    room.local_participant.publish_dtmf.reset_mock()
    room.on.reset_mock()
    server = build_server(
        ServerSettings(
            ws_url="",
            api_key="",
            api_secret="",
            agent_name="test-agent",
            num_idle_processes=0,
            port=0,
            job_executor_type=JobExecutorType.THREAD,
        )
    )
    started = asyncio.Event()
    server.on("worker_started", lambda *_: started.set())
    run_task = asyncio.create_task(server.run(devmode=True, unregistered=True))
    try:
        await asyncio.wait_for(started.wait(), 60)
        # the dispatch rule's room carries the call's metadata (simulate_job sets no job
        # metadata of its own, so the job reads it from the room)
        await server.simulate_job(
            ROOM, fake_job=True, room_info=models.Room(name=ROOM, metadata=json.dumps(metadata))
        )
        yield server, room, caller
    finally:
        for name, value in saved.items():
            setattr(caller, name, value)
        room.name = saved_name
        await server.aclose()
        await asyncio.gather(run_task, return_exceptions=True)
        await close_connections()


def handler_of(room: Any, event: str, owner: type) -> Any:
    """The job's own handler for a room event (the simulated room records ``room.on``)."""
    handlers = [
        call.args[1]
        for call in room.on.call_args_list
        if call.args[:1] == (event,) and isinstance(getattr(call.args[1], "__self__", None), owner)
    ]
    assert handlers, room.on.call_args_list
    return handlers[-1]


def on_job_loop(handler: Any, *args: Any) -> None:
    job_loop = _session_of(handler.__self__)._loop
    job_loop.call_soon_threadsafe(handler, *args)


def _session_of(owner: Any) -> Any:
    return getattr(owner, "_agent_session", None) or owner._session


def hang_up(room: Any, caller: Any) -> None:
    from livekit.agents.voice.room_io.room_io import RoomIO

    leave = handler_of(room, "participant_disconnected", RoomIO)
    caller.disconnect_reason = rtc.DisconnectReason.CLIENT_INITIATED
    on_job_loop(leave, caller)


def press(room: Any, digits: str) -> None:
    from worker.telephony import DTMF_CODES, DtmfRelay

    relay = handler_of(room, "sip_dtmf_received", DtmfRelay)
    for digit in digits:
        on_job_loop(relay, rtc.SipDTMF(code=DTMF_CODES[digit], digit=digit))


async def read(query: Any) -> Any:
    """A read after the job (its connection closed at once: the test database is dropped)."""
    try:
        return await sync_to_async(query)()
    finally:
        await close_connections()


def end_reason(session_id: Any) -> str:
    return (
        SessionTransition.objects.filter(session_id=session_id, to_status="ended")
        .values_list("reason", flat=True)
        .get()
    )


def status_of(session_id: Any) -> str:
    return Session.objects.get(pk=session_id).status


def the_call_session() -> Session | None:
    return Session.objects.filter(room_name=ROOM).first()


@pytest.fixture
def phone(tenant, livekit_server, settings, job_env):  # noqa: F811 - the imported fixture
    """A number of the tenant reaching the phone agent; the job runs in this process."""
    settings.OPENAI_API_KEY, settings.DEEPGRAM_API_KEY = "sk-test", "dg-test"
    settings.OPENAI_BASE_URL = job_env.base_url
    tenant.max_concurrent_sessions = 1
    tenant.save()
    return services.phone_number_create(tenant=tenant, number=NUMBER, agent=phone_agent(tenant))


async def test_an_inbound_call_runs_its_job_until_the_caller_hangs_up(phone, job_env):  # noqa: F811
    job_env.add(
        demo_turn("Welcome to Acme. Press 1 for sales."),
        tool_call_reply("press_keys", {"digits": "1w2#"}),
        demo_turn("Your extension is dialled."),
    )
    metadata = services.phone_number_job_metadata(phone)
    async with inbound_call_job(metadata) as (server, room, caller):
        assert await wait_for(lambda: the_call_session() is not None)
        session = await sync_to_async(the_call_session)()
        assert await wait_for(lambda: Turn.objects.filter(session_id=session.id).exists())
        press(room, "1")  # the caller's keypad, through the job's DtmfRelay
        assert await wait_for(
            lambda: Turn.objects.filter(session_id=session.id).exclude(tool_calls=[]).exists()
        )
        sent = [
            (c.kwargs["code"], c.kwargs["digit"])
            for c in room.local_participant.publish_dtmf.await_args_list
        ]
        hang_up(room, caller)
        assert await wait_for(lambda: status_of(session.id) == SessionStatus.ENDED)
        reason = await sync_to_async(end_reason)(session.id)
        assert await wait_for(lambda: not server.active_jobs)

    # the session: created under the tenant's quotas for the caller's number
    session = await read(lambda: Session.objects.get(pk=session.id))
    assert session.user_id == CALLER
    assert session.user_details == {"phone": CALLER, "called_number": NUMBER}
    assert session.agent_slug == "front-line" and session.version_label == "1.0.0"
    assert session.worker_id and session.job_id
    call = await read(lambda: PhoneCall.objects.get(session=session))
    assert call.direction == "inbound" and call.participant_identity == CALLER_IDENTITY
    # the agent talked: the greeting, then the caller's keypad as text, then its own tones
    turns = await read(lambda: list(Turn.objects.filter(session=session).order_by("index")))
    assert [t.spoken_text for t in turns] == [
        "Welcome to Acme. Press 1 for sales.",
        "Your extension is dialled.",
    ]
    assert last_user_message(job_env.chat_requests[1]) == keypad_text(["1"])
    [tool_call] = turns[1].tool_calls
    assert (tool_call["name"], tool_call["kind"], tool_call["status"]) == (
        "press_keys",
        "send_dtmf",
        "ok",
    )
    assert sent == [(1, "1"), (2, "2"), (11, "#")]
    # the caller hung up: the reason on the session and on the call
    assert reason == "caller hung up"
    assert call.call_status == CallStatus.COMPLETED and call.end_reason == "caller hung up"


async def test_transfer_call_on_a_phone_session_reaches_the_sip_service(
    phone,
    job_env,  # noqa: F811
    livekit_server,
):
    job_env.add(
        demo_turn("Welcome to Acme."),
        tool_call_reply("to_sales"),
        demo_turn("Putting you through to sales."),
    )
    metadata = services.phone_number_job_metadata(phone)
    async with inbound_call_job(metadata) as (server, room, caller):
        assert await wait_for(lambda: the_call_session() is not None)
        session = await sync_to_async(the_call_session)()
        assert await wait_for(lambda: Turn.objects.filter(session_id=session.id).exists())
        press(room, "0")  # "0 for an operator"
        assert await wait_for(lambda: bool(livekit_server.state.transfers))
        assert await wait_for(
            lambda: Turn.objects.filter(session_id=session.id).exclude(tool_calls=[]).exists()
        )
        hang_up(room, caller)  # LiveKit drops the participant once the REFER is accepted
        assert await wait_for(lambda: status_of(session.id) == SessionStatus.ENDED)
        reason = await sync_to_async(end_reason)(session.id)
        assert await wait_for(lambda: not server.active_jobs)

    [transfer] = livekit_server.state.transfers
    assert transfer.room_name == ROOM
    assert transfer.participant_identity == CALLER_IDENTITY
    assert transfer.transfer_to == f"tel:{TRANSFER_TO}"
    assert livekit_server.state.auth_errors == []
    turn = await read(
        lambda: Turn.objects.filter(session_id=session.id).exclude(tool_calls=[]).get()
    )
    assert turn.tool_calls[0]["kind"] == "transfer_call" and turn.tool_calls[0]["status"] == "ok"
    call = await read(lambda: PhoneCall.objects.get(session_id=session.id))
    assert call.call_status == CallStatus.COMPLETED
    assert call.end_reason == f"transferred to {TRANSFER_TO}"
    assert reason == f"transferred to {TRANSFER_TO}"
