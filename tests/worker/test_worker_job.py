"""The job entrypoint end to end through the worker's own job simulation: a real job
process reads the session from PostgreSQL, builds the agent and runs it (no LiveKit server)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from livekit.protocol import models

from sessions_app.models import Session, SessionStatus
from worker.server import ServerSettings, build_server
from worker.store import close_connections

pytestmark = pytest.mark.django_db(transaction=True)


def make_session(*, tenant, agent, overrides=None):
    session = Session.objects.create(
        tenant=tenant,
        agent=agent,
        agent_version=agent.published_version,
        agent_slug=agent.agent_id,
        version_label=agent.published_version.version,
        user_id="user-1",
        user_details={"applicant_name": "Ana"},
        overrides=overrides or {},
        room_name="va-test",
    )
    return session


async def wait_for(predicate, seconds=30.0):
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await sync_to_async(predicate)():
            return True
        await asyncio.sleep(0.2)
    return False


def status_of(session_id):
    return Session.objects.get(pk=session_id).status


@contextlib.asynccontextmanager
async def local_agent_server(job_executor_type: Any = None) -> AsyncIterator[Any]:
    """Our AgentServer running unregistered (no LiveKit server), closed on exit.

    Job processes fork from one forkserver per test process, started with the environment
    of the first test that ran a job: a test whose job must reach *its own* fake server runs
    the job in this process instead (``JobExecutorType.THREAD``, with ``settings``)."""
    extra = {"job_executor_type": job_executor_type} if job_executor_type is not None else {}
    server = build_server(
        ServerSettings(
            ws_url="",
            api_key="",
            api_secret="",
            agent_name="test-agent",
            num_idle_processes=0,
            port=0,
            **extra,
        )
    )
    started = asyncio.Event()
    server.on("worker_started", lambda *_: started.set())
    run_task = asyncio.create_task(server.run(devmode=True, unregistered=True))
    try:
        await asyncio.wait_for(started.wait(), 60)
        yield server
    finally:
        await server.aclose()
        await asyncio.gather(run_task, return_exceptions=True)


async def run_job(room_metadata: str, *, job_seconds: float, check) -> bool:
    async with local_agent_server() as server:
        await server.simulate_job(
            "va-test", fake_job=True, room_info=models.Room(name="va-test", metadata=room_metadata)
        )
        return await wait_for(check, seconds=job_seconds)


async def test_simulated_job_activates_the_session_from_the_database(job_env, tenant):
    from agents_config.factories import make_agent
    from agents_config.services import agent_publish

    def setup():
        agent = make_agent(tenant=tenant)
        agent_publish(agent=agent, version="1.0.0")
        agent.refresh_from_db()
        return make_session(tenant=tenant, agent=agent)

    session = await sync_to_async(setup)()
    metadata = json.dumps({"session_id": str(session.id), "agent_id": session.agent_slug})
    active = await run_job(
        metadata, job_seconds=60, check=lambda: status_of(session.id) == SessionStatus.ACTIVE
    )
    assert active
    ran_by = await sync_to_async(
        lambda: Session.objects.values("worker_id", "job_id").get(pk=session.id)
    )()
    # The job context's ids (a simulated job's id starts "simulated-job-"; the unregistered
    # server's worker id is livekit-agents' placeholder).
    assert ran_by["job_id"] and ran_by["worker_id"], ran_by
    # the job's shutdown ends the session in the database
    ended = await wait_for(lambda: status_of(session.id) == SessionStatus.ENDED, seconds=30)
    await close_connections()
    assert ended


async def test_simulated_job_fails_session_on_unknown_provider(job_env, tenant):
    """A version the contracts no longer accept fails the session with the reason."""
    from agents_config.factories import make_agent
    from agents_config.models import AgentVersion

    def setup():
        agent = make_agent(tenant=tenant)
        document = agent_document_dict(agent)
        document["llm_config"]["provider"] = "acme-llm"
        version = AgentVersion.objects.create(
            agent=agent,
            version="9.0.0",
            major=9,
            minor=0,
            patch=0,
            document=document,
            checksum="x" * 64,
        )
        agent.published_version = version
        agent.save(update_fields=["published_version"])
        return make_session(tenant=tenant, agent=agent)

    session = await sync_to_async(setup)()
    metadata = json.dumps({"session_id": str(session.id)})
    failed = await run_job(
        metadata, job_seconds=60, check=lambda: status_of(session.id) == SessionStatus.FAILED
    )
    assert failed
    reason = await sync_to_async(lambda: Session.objects.get(pk=session.id).failure_reason)()
    await close_connections()
    assert "llm_config.provider" in reason


def agent_document_dict(agent):
    from agents_config.contracts import parse_document
    from agents_config.selectors import agent_draft_document

    return parse_document(agent_draft_document(agent)).to_dict()


async def test_participant_leaving_ends_the_job_and_the_session_with_its_reason(
    job_env, tenant, settings
):
    """The real job runtime (thread executor, so the test reaches the simulation's room):
    the user leaves -> livekit closes the AgentSession -> the job shuts down -> the session
    row is ``ended`` with the reason."""
    settings.OPENAI_API_KEY, settings.DEEPGRAM_API_KEY = "sk-test", "dg-test"
    settings.OPENAI_BASE_URL = job_env.base_url  # the job runs in this process
    from livekit import rtc
    from livekit.agents import JobExecutorType
    from livekit.agents.ipc.mock_room import create_mock_room
    from livekit.agents.voice.room_io.room_io import RoomIO

    from agents_config.factories import make_agent
    from agents_config.services import agent_publish
    from sessions_app.models import SessionTransition

    def setup():
        agent = make_agent(tenant=tenant)
        agent_publish(agent=agent, version="1.0.0")
        agent.refresh_from_db()
        return make_session(tenant=tenant, agent=agent)

    session = await sync_to_async(setup)()
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
    user = next(iter(create_mock_room().remote_participants.values()))
    before = user.disconnect_reason
    try:
        await asyncio.wait_for(started.wait(), 60)
        metadata = json.dumps({"session_id": str(session.id)})
        await server.simulate_job(
            "va-test", fake_job=True, room_info=models.Room(name="va-test", metadata=metadata)
        )
        assert await wait_for(lambda: status_of(session.id) == SessionStatus.ACTIVE)
        room = create_mock_room()  # livekit's simulated room (cached: the job's own)
        handlers = [
            call.args[1]
            for call in room.on.call_args_list
            if call.args[:1] == ("participant_disconnected",)
            and isinstance(getattr(call.args[1], "__self__", None), RoomIO)
        ]
        assert handlers, room.on.call_args_list
        leave = handlers[-1]
        user.disconnect_reason = rtc.DisconnectReason.CLIENT_INITIATED
        job_loop = leave.__self__._agent_session._loop  # the job runs on its own loop
        job_loop.call_soon_threadsafe(leave, user)

        assert await wait_for(lambda: status_of(session.id) == SessionStatus.ENDED)
        reason = await sync_to_async(
            lambda: (
                SessionTransition.objects.filter(session_id=session.id, to_status="ended")
                .values_list("reason", flat=True)
                .get()
            )
        )()
        assert reason == "participant disconnected"
        assert await wait_for(lambda: not server.active_jobs)  # the job ended with the session
    finally:
        user.disconnect_reason = before  # the simulated room is shared by later in-process jobs
        await server.aclose()
        await asyncio.gather(run_task, return_exceptions=True)
        await close_connections()
