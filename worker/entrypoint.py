"""The LiveKit job: prewarm (per process) and the entrypoint (per session).

Job processes are forkserver children: they import this module fresh and call
``django.setup()`` before touching the ORM. Module-level imports stay free of Django models.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import Any

from livekit.agents import JobContext, JobProcess

from tenants.platform.heap import freeze_heap
from worker.session_reload import SessionReloader

logger = logging.getLogger("worker")


def setup_django() -> None:
    """Idempotent ``django.setup()`` for job processes."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def prewarm(proc: JobProcess) -> None:
    """Once per process: Django, every module a job uses, the Silero VAD, the end-of-turn model.

    So a job imports nothing on its event loop (see ``worker.preload``).
    """
    setup_django()
    from worker.preload import warm_process

    warmed = warm_process()
    logger.debug("job process warmed in %.0f ms", warmed * 1000)
    from worker.store import warm_connection

    warm_connection()
    from livekit.plugins import silero

    proc.userdata["vad"] = silero.VAD.load()
    try:
        from livekit.local_inference import init_eot

        init_eot()  # weights ship inside livekit-local-inference; no download
        proc.userdata["eot_ready"] = True
    except Exception as exc:  # noqa: BLE001 - sessions fall back to VAD endpointing
        logger.warning("end-of-turn model unavailable, turn detection will use VAD: %s", exc)
        proc.userdata["eot_ready"] = False
    freeze_heap()


def job_metadata(ctx: JobContext) -> dict[str, Any]:
    """The dispatch metadata, or the room's (set by ``session_room_spec``) as fallback."""
    for raw in (ctx.job.metadata, ctx.job.room.metadata, _room_metadata(ctx)):
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except (TypeError, ValueError):
            logger.warning("ignoring metadata that is not JSON: %.200r", raw)
            continue
        if isinstance(data, dict) and data.get("session_id"):
            return data
    return {}


def _room_metadata(ctx: JobContext) -> str:
    try:
        metadata = ctx.room.metadata
    except Exception:  # noqa: BLE001 - not connected yet
        return ""
    return metadata if isinstance(metadata, str) else ""


async def entrypoint(ctx: JobContext) -> None:
    """Load the session and its pinned version, build the agent, run it in the room."""
    setup_django()
    from livekit.agents import room_io

    from agents_config.contracts import ContractError, parse_document
    from agents_config.providers import ProviderConfigError, ProviderKeys
    from tenants.platform.logging import set_log_context
    from worker import store, telephony
    from worker.factory import AgentFactory
    from worker.publisher import RoomTurnPublisher
    from worker.usage import UsageMeter, budget_closer

    started_ns = time.time_ns()
    phases = StartPhases()
    metadata = job_metadata(ctx)
    if not metadata:
        inbound = telephony.inbound_metadata(ctx)
        if inbound:  # a phone call: its session is created now, under the quotas
            claimed = await telephony.answer_inbound_call(ctx, inbound)
            if claimed is None:
                return
            metadata = {"session_id": claimed}
    session_id = str(metadata.get("session_id") or "")
    set_log_context(session_id=session_id or None)
    if not session_id:
        logger.error("job %s has no session_id in its metadata; leaving", ctx.job.id)
        ctx.shutdown("no session id")
        return
    logger.info("job %s started for session %s", ctx.job.id, session_id)
    try:
        loaded = await store.load_job(session_id)
        phases.mark("load")
    except store.SessionUnavailable as exc:
        logger.error("job %s: %s; leaving", ctx.job.id, exc)
        ctx.shutdown(str(exc))
        return

    from sessions_app.services import resolve_overrides

    set_log_context(
        tenant_id=loaded.tenant_slug,
        agent_id=loaded.agent_slug,
        version=loaded.version_label,
        user_id=loaded.user_id,
    )
    try:
        document = parse_document(resolve_overrides(loaded.document, loaded.overrides))
        phases.mark("parse")
        keys = loaded.keys or {}
        from worker.tools import session_tool_environment

        tool_env = session_tool_environment(secrets=loaded.secrets, session_id=session_id)
        tool_env.send_dtmf = telephony.DtmfSender(ctx.room).send  # errors without a phone line
        factory = AgentFactory(
            document=document,
            keys=ProviderKeys.from_keys(keys),
            vad=ctx.proc.userdata.get("vad"),
            eot_ready=ctx.proc.userdata.get("eot_ready"),
            tool_env=tool_env,
        )
        blueprint = session_blueprint(document, loaded, loaded.version_label)
        meter = UsageMeter.for_document(document)
        turn_store = store.SessionTurnStore(session_id, meter=meter)
        publisher = RoomTurnPublisher(ctx.room)
        handoffs = session_handoffs(
            loaded, document, factory=factory, publisher=publisher, store=turn_store
        )
        agent = factory.build_agent(
            blueprint=blueprint, publisher=publisher, store=turn_store, handoffs=handoffs
        )
        session = factory.build_session()
        meter.attach(session)
        turn_store.on_budget_spent = budget_closer(ctx, session)
        noise_cancellation = factory.build_noise_cancellation()
        phases.mark("build")
    except (ProviderConfigError, ContractError) as exc:
        await store.fail_session(session_id, f"Agent configuration error: {exc}")
        await store.close_connections()
        ctx.shutdown("configuration error")
        return

    job_tracing = _start_tracing(document, loaded, keys, started_ns)
    watcher = _start_reload_watcher(ctx, agent, document, loaded)
    phases.mark("tracing")

    async def finish(reason: str) -> None:
        if watcher is not None:
            watcher.stop()
        await agent.turns.aclose()
        await factory.aclose()
        await handoffs.aclose()
        reason = telephony.call_end_reason(
            reason or "job ended",
            phone=loaded.call is not None,
            transferred_to=tool_env.transferred_to,
        )
        await store.end_session(session_id, reason)
        await store.close_connections()
        if job_tracing is not None:
            job_tracing.shutdown()

    ctx.add_shutdown_callback(finish)
    from worker.lifecycle import SessionLifecycle

    # Whatever closes the session (participant left, time limit, silence, an end-call) ends
    # the job, and ``finish`` marks the session ended with that reason.
    lifecycle = SessionLifecycle(session=session, agent=agent, on_end=ctx.shutdown)
    # Marked active while the room connects and the session starts (same database thread, so
    # it is stored before any turn or end of this session).
    activation = asyncio.create_task(
        store.activate_session(
            session_id, worker_id=str(ctx.worker_id or ""), job_id=str(ctx.job.id or "")
        )
    )
    await ctx.connect()
    phases.mark("connect")
    pipeline = document.pipeline_config
    audio_input: Any = True
    if noise_cancellation is not None:
        audio_input = room_io.AudioInputOptions(noise_cancellation=noise_cancellation)
    await session.start(
        agent=agent,
        room=ctx.room,
        room_options=room_io.RoomOptions(
            audio_input=audio_input, text_output=pipeline.transcription_enabled
        ),
    )
    phases.mark("start")
    call = loaded.call
    if call is not None:
        telephony.DtmfRelay(session).attach(ctx.room)  # keypad presses reach the LLM

        async def voicemail_reached() -> None:
            await telephony.record_voicemail(session_id)
            await ctx.delete_room()

        telephony.VoicemailDetector(
            session, action=call[0], message=call[1], on_detected=voicemail_reached
        ).attach()
    lifecycle.start()
    await activation
    phases.mark("activate")
    logger.info(
        "session %s running %s@%s for tenant %s (started in %s)",
        session_id,
        loaded.agent_slug,
        loaded.version_label,
        loaded.tenant_slug,
        phases,
    )


class StartPhases:
    """Milliseconds per step of a job's start, for its "running" log line (where the
    dispatch -> listening time goes)."""

    def __init__(self) -> None:
        self._last = self._first = time.perf_counter()
        self._steps: list[tuple[str, float]] = []

    def mark(self, step: str) -> None:
        now = time.perf_counter()
        self._steps.append((step, (now - self._last) * 1000))
        self._last = now

    def __str__(self) -> str:
        total = (self._last - self._first) * 1000
        steps = ", ".join(f"{name} {ms:.0f}" for name, ms in self._steps)
        return f"{total:.0f} ms: {steps}"


def _start_tracing(document: Any, loaded: Any, keys: dict[str, Any], started_ns: int) -> Any:
    """Install this job's tracer provider if the session is traced; record the config load."""
    from django.conf import settings

    from worker import tracing

    stored = keys["langfuse"]
    public, secret = tracing.langfuse_credentials(
        stored.value, settings.LANGFUSE_PUBLIC_KEY, settings.LANGFUSE_SECRET_KEY
    )
    plan = tracing.plan_tracing(
        document=document,
        session_id=loaded.session_id,
        user_id=loaded.user_id,
        tenant_slug=loaded.tenant_slug,
        langfuse_public_key=public,
        langfuse_secret_key=secret,
        langfuse_host=settings.LANGFUSE_HOST,
        langfuse_own=stored.own and ":" in stored.value,
    )
    job_tracing = tracing.install(plan)
    if job_tracing is not None:
        from livekit.agents.telemetry import tracer

        span = tracer.start_span(
            "agent.config_load",
            start_time=started_ns,
            attributes={"agent.id": loaded.agent_slug, "agent.version": loaded.version_label},
        )
        span.end()
    return job_tracing


def _start_reload_watcher(ctx: JobContext, agent: Any, document: Any, loaded: Any) -> Any:
    """Follow pushed config changes for this session's agent (needs REDIS_URL)."""
    from django.conf import settings

    if not settings.REDIS_URL:
        return None
    from agents_config.config_broadcast import ConfigChangeListener, config_channel
    from agents_config.contracts import parse_document
    from sessions_app.livekit import CONFIG_TOPIC
    from sessions_app.services import resolve_overrides
    from worker import store
    from worker.publisher import RoomTurnPublisher

    publisher = RoomTurnPublisher(ctx.room)

    async def notify(message: dict[str, Any]) -> None:
        await publisher.publish(message, topic=CONFIG_TOPIC)

    async def apply(version: str) -> None:
        label, raw = await store.version_document(loaded.tenant_id, loaded.agent_slug, version)
        new_document = parse_document(resolve_overrides(raw, loaded.overrides))
        agent.schedule_blueprint(session_blueprint(new_document, loaded, label))

    async def live_version() -> str | None:
        try:
            label, _ = await store.version_document(loaded.tenant_id, loaded.agent_slug, None)
        except store.SessionUnavailable:
            return None
        return label

    reloader = SessionReloader(
        tenant_id=loaded.tenant_id,
        agent_id=loaded.agent_slug,
        policy=document.reload_policy,
        current_version=loaded.version_label,
        notify=notify,
        apply=apply,
        live_version=live_version,
    )
    listener = ConfigChangeListener(
        settings.REDIS_URL,
        reloader.on_change,
        reloader.revalidate,
        channel=config_channel(loaded.tenant_id, loaded.agent_slug),
    )
    task = asyncio.create_task(listener.run(), name="config-change-listener")
    listener.task = task  # keep a reference for the job's lifetime
    return listener


def session_handoffs(
    loaded: Any, document: Any, *, factory: Any, publisher: Any, store: Any
) -> Any:
    """The session's handoff runtime: its pinned targets (and its own agent, for a handoff
    back), built like the session's agent, each handoff stored on the session."""
    from worker import store as db
    from worker.handoff import HandoffDirectory, HandoffRuntime, HandoffTarget

    directory = HandoffDirectory.from_documents(
        loaded.handoff_documents,
        entry=HandoffTarget(loaded.agent_slug, loaded.version_label, document),
    )

    async def record(handoff: dict[str, Any]) -> None:
        await db.record_handoff(loaded.session_id, handoff)

    return HandoffRuntime(
        directory=directory,
        keys=factory.keys,
        publisher=publisher,
        store=store,
        session_id=loaded.session_id,
        user_details=loaded.user_details,
        vad=factory.vad,
        eot_ready=factory.eot_ready,
        on_handoff=record,
        factory_options={"tool_env": factory.tool_env},
    )


def session_blueprint(document: Any, loaded: Any, version: str) -> Any:
    """The agent blueprint for a loaded session running ``document`` as ``version``."""
    from worker.agent import AgentBlueprint

    return AgentBlueprint.for_session(
        document,
        version=version,
        user_details=loaded.user_details,
        overrides=loaded.overrides,
        session_id=loaded.session_id,
    )
