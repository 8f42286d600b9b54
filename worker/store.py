"""The worker's database access, async-safe: every ORM call runs in a worker thread.

Functions here are called from the job's event loop; each wraps a short synchronous unit of
work with ``sync_to_async`` and closes stale connections first (job processes live long and
the database may have dropped an idle connection).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from tenants.secrets import ProviderKey
    from worker.turns import TurnRecord
    from worker.usage import UsageMeter

logger = logging.getLogger(__name__)


class SessionUnavailable(Exception):
    """The job's session does not exist or cannot run (closed, no pinned version)."""


@dataclass(frozen=True)
class LoadedSession:
    """A session and its pinned version, as plain data for the event loop."""

    session_id: str
    tenant_id: int
    tenant_slug: str
    user_id: str
    agent_slug: str
    version_label: str
    status: str
    document: dict[str, Any]
    user_details: dict[str, Any]
    overrides: dict[str, Any]
    keys: dict[str, ProviderKey] | None = None
    """The provider keys (read with the session by :func:`load_job`)."""
    call: tuple[str, str] | None = None
    """A phone session's (voicemail action, message) (read by :func:`load_job`)."""
    handoff_documents: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    """The agents reachable by handoff at their pinned versions: ``{agent_id: (label, doc)}``."""
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    """Tenant secrets the tools and MCP servers of the session's agents name (decrypted:
    never log)."""


def _handoff_documents(session: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    """The pinned handoff versions' documents (pinned now if the session has none yet)."""
    from agents_config.models import AgentVersion
    from sessions_app.services import session_handoff_pins

    pins = session_handoff_pins(session=session)
    wanted = {pin.get("version_id") for pin in pins.values() if isinstance(pin, dict)}
    versions = AgentVersion.objects.filter(
        agent__tenant_id=session.tenant_id, pk__in=wanted
    ).select_related("agent")
    return {v.agent.agent_id: (v.version, v.document) for v in versions}


def session_secret_values(tenant_id: int, documents: list[dict[str, Any]]) -> dict[str, str]:
    """Decrypted values of the tenant secrets the documents' tools and MCP servers name
    (synchronous ORM: the worker calls it in a thread; one query, none without secrets).
    Never log them."""
    from agents_config.contracts import ToolsConfig
    from tenants.selectors import tenant_secret_values

    names: set[str] = set()
    for document in documents:
        names |= ToolsConfig.model_validate(document.get("tools_config") or {}).secret_names()
    return tenant_secret_values(tenant_id=tenant_id, names=names) if names else {}


def _load_session(session_id: str) -> LoadedSession:
    from django.core.exceptions import ValidationError

    from sessions_app.models import OPEN_STATUSES, Session

    close_old_connections()
    try:
        session = (
            Session.objects.select_related("tenant", "agent_version").filter(pk=session_id).first()
        )
    except (ValidationError, ValueError):
        session = None
    if session is None:
        raise SessionUnavailable(f"no session {session_id!r}")
    if session.status not in OPEN_STATUSES:
        raise SessionUnavailable(f"session {session_id} is {session.status}")
    if session.agent_version is None:
        raise SessionUnavailable(f"session {session_id} has no pinned agent version")
    handoff_documents = _handoff_documents(session)
    documents = [session.agent_version.document, *(doc for _, doc in handoff_documents.values())]
    return LoadedSession(
        session_id=str(session.id),
        tenant_id=session.tenant_id,
        tenant_slug=session.tenant.slug,
        user_id=session.user_id,
        agent_slug=session.agent_slug,
        version_label=session.version_label,
        status=session.status,
        document=session.agent_version.document,
        user_details=dict(session.user_details or {}),
        overrides=dict(session.overrides or {}),
        handoff_documents=handoff_documents,
        secrets=session_secret_values(session.tenant_id, documents),
    )


load_session = sync_to_async(_load_session, thread_sensitive=True)


def _open_connection() -> None:
    from django.db import connection

    close_old_connections()
    connection.ensure_connection()


def warm_connection() -> None:
    """Prewarm (no event loop yet): open the database connection on the thread that runs
    every call here, so the job's first read does not pay for connecting (reused while
    ``CONN_MAX_AGE`` allows, as the agent worker runs; reopened after that as before)."""
    import asyncio

    try:
        asyncio.run(sync_to_async(_open_connection, thread_sensitive=True)())
    except Exception as exc:  # noqa: BLE001 - the job connects itself then
        logger.warning("could not open the database connection in prewarm: %s", exc)


def _load_job(session_id: str) -> LoadedSession:
    """Everything a job's start reads, in one trip to the database thread: the session and
    its pinned version, the provider keys (one query) and a phone call's settings."""
    from dataclasses import replace

    from worker.telephony import voicemail_settings

    loaded = _load_session(session_id)
    return replace(
        loaded,
        keys=_provider_keys(loaded.tenant_id),
        call=voicemail_settings(session_id),
    )


load_job = sync_to_async(_load_job, thread_sensitive=True)


def _provider_keys(tenant_id: int | None) -> dict[str, ProviderKey]:
    """The tenant's keys per provider, each saying whether it is the tenant's own."""
    from agents_config.providers import tenant_provider_keys

    close_old_connections()
    return tenant_provider_keys(tenant_id)


provider_keys = sync_to_async(_provider_keys, thread_sensitive=True)


def _transition(
    session_id: str, action: str, reason: str = "", worker_id: str = "", job_id: str = ""
) -> bool:
    from sessions_app import services
    from sessions_app.models import Session

    close_old_connections()
    session = Session.objects.select_related("tenant").filter(pk=session_id).first()
    if session is None:
        return False
    if action == "activate":
        return services.session_activate(session=session, worker_id=worker_id, job_id=job_id)
    if action == "fail":
        return services.session_fail(session=session, reason=reason)
    return services.session_end(session=session, reason=reason)


async def activate_session(session_id: str, *, worker_id: str = "", job_id: str = "") -> bool:
    """Active, recording the LiveKit worker and job that run it."""
    return await sync_to_async(_transition, thread_sensitive=True)(
        session_id, "activate", worker_id=worker_id, job_id=job_id
    )


async def fail_session(session_id: str, reason: str) -> bool:
    logger.error("session %s failed: %s", session_id, reason)
    return await sync_to_async(_transition, thread_sensitive=True)(session_id, "fail", reason)


async def end_session(session_id: str, reason: str) -> bool:
    try:
        return await sync_to_async(_transition, thread_sensitive=True)(session_id, "end", reason)
    except Exception:  # e.g. the room clean-up task could not be queued; the end is stored
        logger.exception("ending session %s: follow-up work failed", session_id)
        return False


def _save_turn(
    session_id: str, record: TurnRecord, usage: dict[str, Any] | None = None
) -> str | None:
    """Store the turn (and its usage and cost); the budget's closing line if it is spent."""
    from sessions_app import billing, services
    from sessions_app.models import Session

    close_old_connections()
    session = Session.objects.filter(pk=session_id).first()
    if session is None:
        logger.warning("session %s vanished; turn %s not stored", session_id, record.index)
        return None
    turn = services.turn_record(
        session=session,
        user_text=record.user_text,
        spoken_text=record.spoken_text,
        structured_output=record.data,
        validation_errors=record.errors,
        llm_ttft_ms=record.llm_ttft_ms,
        first_spoken_ms=record.first_spoken_ms,
        tts_ttfb_ms=record.tts_ttfb_ms,
        e2e_latency_ms=record.e2e_latency_ms,
        end_of_turn_delay_ms=record.end_of_turn_delay_ms,
        transcription_delay_ms=record.transcription_delay_ms,
        spoken_complete_ms=record.spoken_complete_ms,
        version_label=record.version,
        greeting=record.index == 0,
        interrupted=record.interrupted,
        tool_calls=record.tool_calls,
        agent_slug=record.agent_id,
    )
    if usage is None:
        return None
    billing.turn_usage_add(turn=turn, usage=usage)
    return billing.budget_exhausted(session=session)


class SessionTurnStore:
    """Stores each finished turn as a ``Turn`` of the session.

    With a ``meter``, each turn also gets the usage measured since the previous one, and
    after each turn the session's budgets are checked: when one is spent,
    ``on_budget_spent(closing_line)`` is awaited once (the worker says it and ends).
    """

    def __init__(
        self,
        session_id: str,
        *,
        meter: UsageMeter | None = None,
        on_budget_spent: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.session_id = session_id
        self.meter = meter
        self.on_budget_spent = on_budget_spent
        self.budget_spent = False

    async def save(self, record: TurnRecord) -> None:
        usage = self.meter.drain() if self.meter is not None else None
        closing_line = await sync_to_async(_save_turn, thread_sensitive=True)(
            self.session_id, record, usage
        )
        if closing_line is not None and not self.budget_spent:
            self.budget_spent = True
            logger.info("session %s: budget spent, ending after this turn", self.session_id)
            if self.on_budget_spent is not None:
                await self.on_budget_spent(closing_line)


def _record_handoff(session_id: str, handoff: dict[str, Any]) -> None:
    from sessions_app import services
    from sessions_app.models import Session

    close_old_connections()
    session = Session.objects.filter(pk=session_id).first()
    if session is not None:
        services.session_handoff_record(session=session, handoff=handoff)


async def record_handoff(session_id: str, handoff: dict[str, Any]) -> None:
    """Store a handoff between agents on the session (``Session.handoffs``)."""
    await sync_to_async(_record_handoff, thread_sensitive=True)(session_id, handoff)


def _close_connections() -> None:
    from django.db import connections

    connections.close_all()


close_connections = sync_to_async(_close_connections, thread_sensitive=True)
"""Close the worker thread's database connections (end of a job, end of a test)."""


def _version_document(tenant_id: int, agent_id: str, version: str | None) -> tuple[str, dict]:
    """A published version's label and document (``version`` None: the live one)."""
    from agents_config.models import Agent, AgentVersion

    close_old_connections()
    if version is None:
        agent = (
            Agent.objects.select_related("published_version")
            .filter(tenant_id=tenant_id, agent_id=agent_id)
            .first()
        )
        found = agent.published_version if agent is not None else None
    else:
        found = AgentVersion.objects.filter(
            agent__tenant_id=tenant_id, agent__agent_id=agent_id, version=version
        ).first()
    if found is None:
        raise SessionUnavailable(f"agent {agent_id} has no version {version or '(live)'}")
    return found.version, found.document


version_document = sync_to_async(_version_document, thread_sensitive=True)
