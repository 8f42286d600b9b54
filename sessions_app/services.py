"""Writes for sessions: create (quota-checked), provision, activate, end, fail, expire.

Quotas are enforced inside one transaction that locks the tenant's row, so concurrent requests
for the same tenant are serialised and a quota of N admits exactly N sessions. Monthly usage is
kept per calendar month (``UsageCounter``), so a new month starts at zero and history stays.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import uuid
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from agents_config.contracts import ContractError, parse_document
from agents_config.handoffs import handoff_pins
from agents_config.models import Agent
from agents_config.templating import DYNAMIC_VARS_OVERRIDE
from sessions_app.events import session_status_changed
from sessions_app.models import (
    OPEN_STATUSES,
    QuotaKind,
    Session,
    SessionStatus,
    SessionTransition,
    UsageCounter,
)
from tenants.metrics import FIRST_AUDIO_SECONDS, QUOTA_REJECTIONS, SESSION_TRANSITIONS, TURNS
from tenants.models import IsolationLevel, Tenant
from tenants.platform import json_input

logger = logging.getLogger(__name__)

USER_DETAILS_MAX_KEYS = 50
# Sessions the reconciler fails in one transaction (the rest wait for its next run).
RECONCILE_BATCH_SIZE = 500

# Which statuses each status may be entered from.
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    SessionStatus.PROVISIONED: (SessionStatus.PENDING,),
    SessionStatus.ACTIVE: (SessionStatus.PENDING, SessionStatus.PROVISIONED),
    SessionStatus.ENDED: OPEN_STATUSES,
    SessionStatus.FAILED: OPEN_STATUSES,
}


class SessionRejected(Exception):
    """The session cannot start (agent missing, disabled or unpublished)."""

    def __init__(self, message: str, *, status: int = 409, code: str = "conflict"):
        super().__init__(message)
        self.status = status
        self.code = code


class ProvisioningUnavailable(Exception):
    """The provisioning task could not be queued (broker down); the session was failed and
    its quota released, so the client may simply retry."""


@dataclass(frozen=True)
class QuotaExceeded(Exception):
    quota: str
    limit: int
    reset_at: dt.datetime | None

    def __str__(self) -> str:
        return f"Quota {self.quota} reached (limit {self.limit})."


def month_period(tenant: Tenant, now: dt.datetime | None = None) -> tuple[dt.date, dt.datetime]:
    """The current calendar month in the tenant's time zone: (first day, start of next month)."""
    local = (now or timezone.now()).astimezone(zoneinfo.ZoneInfo(tenant.time_zone))
    first = local.date().replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    reset_at = dt.datetime.combine(following, dt.time(), tzinfo=local.tzinfo)
    return first, reset_at


def resolve_overrides(document: dict[str, Any], overrides: Any) -> dict[str, Any]:
    """The version document with a session's overrides applied, validated by the contracts.

    Only settings listed in the agent's ``pipeline_config.session_overrides`` may be set;
    ``prompt_config.dynamic_vars`` may only set declared variables.
    """
    if overrides in (None, {}):
        return document
    if not isinstance(overrides, dict):
        raise ContractError({"overrides": ["Expected a JSON object."]})
    _check_storable(overrides, "overrides")
    allowed = set(document["pipeline_config"].get("session_overrides", []))
    merged = copy.deepcopy(document)
    errors: dict[str, list[str]] = {}
    for section, values in overrides.items():
        if not isinstance(values, dict):
            errors[f"overrides.{section}"] = ["Expected a JSON object."]
            continue
        for key, value in values.items():
            path = f"{section}.{key}"
            if path not in allowed:
                errors[f"overrides.{path}"] = [
                    f"not overridable for this agent; allowed: {', '.join(sorted(allowed))}"
                ]
            elif path == DYNAMIC_VARS_OVERRIDE:
                declared = merged["prompt_config"]["dynamic_vars"]
                if not isinstance(value, dict):
                    errors[f"overrides.{path}"] = ["Expected a JSON object."]
                    continue
                unknown = [name for name in value if name not in declared]
                if unknown:
                    errors[f"overrides.{path}"] = [f"undeclared variables: {', '.join(unknown)}"]
                declared.update({k: v for k, v in value.items() if k not in unknown})
            else:
                merged[section][key] = value
    if errors:
        raise ContractError(errors)
    try:
        parse_document(merged)
    except ContractError as exc:
        raise ContractError(
            {f"overrides.{path}": msgs for path, msgs in exc.errors.items()}
        ) from None
    return merged


def _check_user_details(user_details: Any) -> dict[str, Any]:
    if user_details in (None, ""):
        return {}
    if not isinstance(user_details, dict):
        raise ContractError({"user_details": ["Expected a JSON object."]})
    if len(user_details) > USER_DETAILS_MAX_KEYS:
        raise ContractError({"user_details": [f"At most {USER_DETAILS_MAX_KEYS} keys."]})
    _check_storable(user_details, "user_details")
    return user_details


def _check_storable(value: Any, prefix: str) -> None:
    """Callers other than the API parser (commands, the worker) get the same JSON limits."""
    try:
        json_input.check_value(value, prefix=prefix)
    except json_input.UnsafeJSON as exc:
        raise ContractError(exc.errors) from None


def _record(session: Session, from_status: str, to_status: str, reason: str = "") -> None:
    SessionTransition.objects.create(
        session=session, from_status=from_status, to_status=to_status, reason=reason[:2000]
    )


def _count_month(tenant: Tenant, kind: str, period: dt.date, user_id: str = "") -> UsageCounter:
    counter, _ = UsageCounter.objects.get_or_create(
        tenant=tenant, kind=kind, period_start=period, user_id=user_id
    )
    return counter


def _enforce_quotas(tenant: Tenant, user_id: str) -> list[UsageCounter]:
    """Raise QuotaExceeded if a new session would break a quota; return counters to bump."""
    period, reset_at = month_period(tenant)
    if tenant.max_concurrent_sessions is not None:
        open_count = Session.objects.filter(tenant=tenant, status__in=OPEN_STATUSES).count()
        if open_count >= tenant.max_concurrent_sessions:
            raise QuotaExceeded("max_concurrent_sessions", tenant.max_concurrent_sessions, None)
    counters = [_count_month(tenant, QuotaKind.TENANT_MONTH, period)]
    if (
        tenant.max_sessions_per_month is not None
        and counters[0].sessions_started >= tenant.max_sessions_per_month
    ):
        raise QuotaExceeded("max_sessions_per_month", tenant.max_sessions_per_month, reset_at)
    if (
        tenant.isolation_level == IsolationLevel.USER
        and tenant.max_sessions_per_user_per_month is not None
    ):
        user_counter = _count_month(tenant, QuotaKind.USER_MONTH, period, user_id)
        if user_counter.sessions_started >= tenant.max_sessions_per_user_per_month:
            raise QuotaExceeded(
                "max_sessions_per_user_per_month",
                tenant.max_sessions_per_user_per_month,
                reset_at,
            )
        counters.append(user_counter)
    return counters


def session_create(
    *,
    tenant: Tenant,
    agent_id: str | None = None,
    agent: Agent | None = None,
    user_id: str,
    user_details: Any = None,
    overrides: Any = None,
    room_name: str | None = None,
    provision: bool = True,
    pinned_version: Any = None,
) -> Session:
    """Start a session on the agent's live version (or the version a running experiment
    assigns the user), within the tenant's quotas and budgets.

    ``room_name``/``provision=False`` are for phone calls: an inbound call's room already exists
    (LiveKit's dispatch rule made it) and an outbound call's task provisions before dialling.
    ``pinned_version`` (one of the agent's versions) replaces the live version.

    Raises ``SessionRejected`` (404/409), ``ContractError`` (bad overrides or details),
    ``QuotaExceeded`` or ``billing.BudgetExceeded``; nothing is stored or counted then.
    Provisioning is queued on commit; if the broker refuses it, the session is failed, its
    quota given back and ``ProvisioningUnavailable`` raised (after the commit).
    """
    from agents_config.experiments import experiment_version_for
    from sessions_app import billing

    _expire_without_beat(tenant)
    user_id = (user_id or "").strip()
    if not user_id or len(user_id) > 200:
        raise ContractError({"user_id": ["Required, at most 200 characters."]})
    details = _check_user_details(user_details)
    with transaction.atomic():
        locked_tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if agent is None:
            agent = (
                Agent.objects.select_related("published_version")
                .filter(tenant=locked_tenant, agent_id=agent_id)
                .first()
            )
        if agent is None or agent.tenant_id != locked_tenant.pk:
            raise SessionRejected(f"No agent {agent_id!r}.", status=404, code="not_found")
        agent_id = agent.agent_id
        if not agent.enabled:
            raise SessionRejected(f"Agent {agent_id!r} is disabled.")
        # A version experiment splits traffic (sticky per user); else the live version.
        if pinned_version is not None and pinned_version.agent_id == agent.pk:
            version = pinned_version
        else:
            version = (
                experiment_version_for(agent=agent, user_id=user_id) or agent.published_version
            )
        if version is None:
            raise SessionRejected(f"Agent {agent_id!r} has no published version; publish it first.")
        document = resolve_overrides(version.document, overrides)
        try:
            counters = _enforce_quotas(locked_tenant, user_id)
        except QuotaExceeded as exc:
            QUOTA_REJECTIONS.labels(quota=exc.quota).inc()
            raise
        reserved = billing.budget_enforce(tenant=locked_tenant, agent_id=agent.pk)
        handoff_versions = handoff_pins(
            tenant_id=locked_tenant.pk, agent_id=agent.agent_id, document=version.document
        )
        now = timezone.now()
        minutes = document["pipeline_config"].get("max_session_minutes", 30)
        session_id = uuid.uuid4()
        session = Session.objects.create(
            id=session_id,
            room_name=room_name or f"va-{session_id.hex}",
            tenant=locked_tenant,
            agent=agent,
            agent_version=version,
            agent_slug=agent.agent_id,
            version_label=version.version,
            user_id=user_id,
            user_details=details,
            overrides=overrides or {},
            created_at=now,
            expires_at=now + dt.timedelta(minutes=minutes),
            reserved_usd=reserved,
            handoff_versions=handoff_versions,
        )
        UsageCounter.objects.filter(pk__in=[c.pk for c in counters]).update(
            sessions_started=F("sessions_started") + 1
        )
        _record(session, "", SessionStatus.PENDING)
        _emit_status_change(session, "", SessionStatus.PENDING, "")
        SESSION_TRANSITIONS.labels(status=SessionStatus.PENDING).inc()
        if provision:
            counter_ids = [c.pk for c in counters]
            transaction.on_commit(lambda: _queue_provisioning(session, counter_ids))
    return session


def _queue_provisioning(session: Session, counter_ids: list[int]) -> None:
    """Publish the provisioning task; when the broker is unreachable, undo the session's
    claims (concurrent slot, monthly counts) rather than leave it pending with no task."""
    from kombu.exceptions import OperationalError

    from sessions_app.tasks import provision_session_room

    try:
        provision_session_room.delay(str(session.pk))
    except OperationalError as exc:
        logger.error("could not queue provisioning of session %s: %s", session.pk, exc)
        with transaction.atomic():
            UsageCounter.objects.filter(pk__in=counter_ids, sessions_started__gt=0).update(
                sessions_started=F("sessions_started") - 1
            )
            session_fail(
                session=session,
                reason="Provisioning could not be queued: the task broker is unavailable.",
            )
        raise ProvisioningUnavailable(
            "The task queue is unavailable, so the session could not start; retry shortly."
        ) from exc


def _emit_status_change(session: Session, from_status: str, to_status: str, reason: str) -> None:
    payload = {
        "session_id": str(session.pk),
        "tenant_pk": session.tenant_id,
        "agent_id": session.agent_slug,
        "version": session.version_label,
        "from_status": from_status,
        "to_status": to_status,
        "reason": reason,
    }
    # robust: a failing receiver (e.g. a webhook that cannot be queued) is logged and never
    # undoes or hides the committed change.
    transaction.on_commit(
        lambda: session_status_changed.send(sender=Session, **payload), robust=True
    )


def session_transition(*, session: Session, to_status: str, reason: str = "") -> bool:
    """Move to ``to_status`` if the current status allows it (atomic; False otherwise)."""
    with transaction.atomic():
        current = Session.objects.select_for_update().get(pk=session.pk)
        if current.status not in ALLOWED_FROM[to_status]:
            return False
        updates: dict[str, Any] = {"status": to_status}
        if to_status in (SessionStatus.ENDED, SessionStatus.FAILED):
            updates["ended_at"] = timezone.now()
        if to_status == SessionStatus.FAILED:
            updates["failure_reason"] = reason[:2000]
        Session.objects.filter(pk=session.pk).update(**updates)
        _record(current, current.status, to_status, reason)
        _emit_status_change(current, current.status, to_status, reason)
        SESSION_TRANSITIONS.labels(status=to_status).inc()
        if to_status in (SessionStatus.ENDED, SessionStatus.FAILED):
            from sessions_app.tasks import build_session_report

            session_id = str(session.pk)
            transaction.on_commit(lambda: build_session_report.delay(session_id), robust=True)
    for field, value in updates.items():
        setattr(session, field, value)
    return True


def session_room_spec(session: Session) -> Any:
    from sessions_app.livekit import RoomSpec

    pipeline = (session.agent_version.document if session.agent_version else {}).get(
        "pipeline_config", {}
    )
    return RoomSpec(
        name=session.room_name,
        metadata=session_job_metadata(session),
        empty_timeout=pipeline.get("room_empty_timeout_seconds", 300),
        max_participants=pipeline.get("max_participants", 2),
    )


def session_job_metadata(session: Session) -> dict[str, Any]:
    """What the worker needs to find the session (room metadata and dispatch metadata)."""
    return {
        "session_id": str(session.id),
        "agent_id": session.agent_slug,
        "version": session.version_label,
        "tenant_id": session.tenant.slug,
    }


def session_provision(*, session: Session) -> bool:
    """Create the LiveKit room and dispatch the agent; idempotent. False if not pending."""
    from sessions_app import livekit

    if session.status != SessionStatus.PENDING:
        return False
    livekit.ensure_room_with_agent(
        session_room_spec(session),
        agent_name=settings.LIVEKIT_AGENT_NAME,
        job_metadata=session_job_metadata(session),
    )
    return session_transition(session=session, to_status=SessionStatus.PROVISIONED)


def session_end(*, session: Session, reason: str = "") -> bool:
    """End an open session (frees its concurrent slot) and delete its room after commit."""
    from sessions_app.tasks import delete_session_room

    ended = session_transition(session=session, to_status=SessionStatus.ENDED, reason=reason)
    if ended and session.room_name:
        room_name = session.room_name
        transaction.on_commit(lambda: delete_session_room.delay(room_name), robust=True)
    return ended


def session_fail(*, session: Session, reason: str) -> bool:
    return session_transition(session=session, to_status=SessionStatus.FAILED, reason=reason)


EXPIRE_BATCH_SIZE = 500
EXPIRED_REASON = "expired"


def sessions_expire(*, now: dt.datetime | None = None, tenant: Tenant | None = None) -> int:
    """End every open session past its expiry time (of ``tenant``, or all); returns how
    many were ended.

    Set-based, a batch at a time: one locking select (rows a running transition holds are
    skipped until the next sweep), one update, one insert of the transitions; the status
    events, reports and room deletions follow each batch's commit, as ``session_end``'s do.
    """
    now = now or timezone.now()
    total = 0
    while True:
        ended = _expire_batch(now, tenant)
        total += ended
        if ended < EXPIRE_BATCH_SIZE:
            return total


def _expire_batch(now: dt.datetime, tenant: Tenant | None) -> int:
    from sessions_app.tasks import build_session_report, delete_session_room

    with transaction.atomic():
        expired = list(
            Session.objects.select_for_update(skip_locked=True)
            .filter(status__in=OPEN_STATUSES, expires_at__lt=now)
            .filter(**({"tenant": tenant} if tenant is not None else {}))
            .order_by("expires_at")
            .only("pk", "status", "tenant_id", "agent_slug", "version_label", "room_name")[
                :EXPIRE_BATCH_SIZE
            ]
        )
        if not expired:
            return 0
        Session.objects.filter(pk__in=[s.pk for s in expired]).update(
            status=SessionStatus.ENDED, ended_at=now
        )
        SessionTransition.objects.bulk_create(
            SessionTransition(
                session=s, from_status=s.status, to_status=SessionStatus.ENDED,
                reason=EXPIRED_REASON, created_at=now,
            )
            for s in expired
        )  # fmt: skip
        for s in expired:
            _emit_status_change(s, s.status, SessionStatus.ENDED, EXPIRED_REASON)
        SESSION_TRANSITIONS.labels(status=SessionStatus.ENDED).inc(len(expired))
        session_ids = [str(s.pk) for s in expired]
        rooms = [s.room_name for s in expired if s.room_name]

        def follow_up() -> None:
            for session_id in session_ids:
                build_session_report.delay(session_id)
            for room_name in rooms:
                delete_session_room.delay(room_name)

        transaction.on_commit(follow_up, robust=True)
    return len(expired)


def _expire_without_beat(tenant: Tenant) -> None:
    """The quick start (no REDIS_URL: an in-memory broker, Celery eager, no beat) runs no
    periodic expiry sweep, so sessions left open would hold concurrent slots forever; sweep
    the tenant's expired sessions before counting them. With a broker, Celery beat's
    ``expire_sessions`` does it."""
    if settings.CELERY_BROKER_URL.startswith("memory://"):
        sessions_expire(tenant=tenant)


def sessions_reconcile(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Repair sessions whose provisioning was lost (worker killed, broker restarted…).

    A session still ``pending`` ``SESSION_STUCK_REQUEUE_SECONDS`` after creation gets its
    provisioning task queued again (the task is idempotent); one still ``pending`` or
    ``provisioned`` (no agent joined) after ``SESSION_STUCK_FAIL_SECONDS`` is failed with a
    reason, freeing its slot. Rows are found and failed with set-based queries; rows locked by
    a running transition are skipped until the next run.
    """
    from sessions_app.tasks import provision_session_room

    now = now or timezone.now()
    fail_before = now - dt.timedelta(seconds=settings.SESSION_STUCK_FAIL_SECONDS)
    requeue_before = now - dt.timedelta(seconds=settings.SESSION_STUCK_REQUEUE_SECONDS)
    stuck_statuses = (SessionStatus.PENDING, SessionStatus.PROVISIONED)
    reasons = {
        SessionStatus.PENDING: "Provisioning did not complete within "
        f"{settings.SESSION_STUCK_FAIL_SECONDS} s (its task was lost or kept failing).",
        SessionStatus.PROVISIONED: "No agent joined the room within "
        f"{settings.SESSION_STUCK_FAIL_SECONDS} s (is an agent worker running?).",
    }
    with transaction.atomic():
        stuck = list(
            Session.objects.select_for_update(skip_locked=True)
            .filter(status__in=stuck_statuses, created_at__lt=fail_before)
            .order_by("created_at")
            .only("pk", "status", "tenant_id", "agent_slug", "version_label")[:RECONCILE_BATCH_SIZE]
        )
        for status in stuck_statuses:
            Session.objects.filter(pk__in=[s.pk for s in stuck if s.status == status]).update(
                status=SessionStatus.FAILED, ended_at=now, failure_reason=reasons[status]
            )
        SessionTransition.objects.bulk_create(
            SessionTransition(
                session=s, from_status=s.status, to_status=SessionStatus.FAILED,
                reason=reasons[s.status], created_at=now,
            )
            for s in stuck
        )  # fmt: skip
        for s in stuck:
            _emit_status_change(s, s.status, SessionStatus.FAILED, reasons[s.status])
        stuck_ids = [str(s.pk) for s in stuck]
        if stuck_ids:
            from sessions_app.tasks import build_session_report

            transaction.on_commit(
                lambda: [build_session_report.delay(sid) for sid in stuck_ids], robust=True
            )
    lost = [
        str(pk)
        for pk in Session.objects.filter(
            status=SessionStatus.PENDING, created_at__lt=requeue_before, created_at__gte=fail_before
        ).values_list("pk", flat=True)
    ]
    for session_id in lost:
        provision_session_room.delay(session_id)
    if stuck or lost:
        logger.warning(
            "reconciler: failed %d stuck session(s), re-queued %d", len(stuck), len(lost)
        )
    return {"failed": len(stuck), "requeued": len(lost)}


def usage_open_month(*, now: dt.datetime | None = None) -> int:
    """Start the current month's usage row for every active tenant (the monthly reset).

    Counting is per period, so this only makes the new month visible at zero; earlier months
    stay as history.
    """
    created = 0
    for tenant in Tenant.objects.filter(is_active=True):
        period, _ = month_period(tenant, now)
        _, was_created = UsageCounter.objects.get_or_create(
            tenant=tenant, kind=QuotaKind.TENANT_MONTH, period_start=period, user_id=""
        )
        created += was_created
    return created


# --- Worker side: activation and turn storage (called by the LiveKit agent worker) ---


def session_activate(*, session: Session, worker_id: str = "", job_id: str = "") -> bool:
    """Mark the session active when its agent starts (False if it is no longer open), noting
    the worker and job running it."""
    if worker_id or job_id:
        Session.objects.filter(pk=session.pk).update(worker_id=worker_id[:64], job_id=job_id[:64])
        session.worker_id, session.job_id = worker_id[:64], job_id[:64]
    return session_transition(session=session, to_status=SessionStatus.ACTIVE)


def turn_record(
    *,
    session: Session,
    user_text: str,
    spoken_text: str,
    structured_output: dict[str, Any],
    validation_errors: list[str],
    llm_ttft_ms: float | None = None,
    first_spoken_ms: float | None = None,
    tts_ttfb_ms: float | None = None,
    e2e_latency_ms: float | None = None,
    end_of_turn_delay_ms: float | None = None,
    transcription_delay_ms: float | None = None,
    spoken_complete_ms: float | None = None,
    version_label: str | None = None,
    greeting: bool = False,
    interrupted: bool = False,
    tool_calls: list[dict[str, Any]] | None = None,
    agent_slug: str = "",
) -> Any:
    """Store one finished turn with the next index of the session (1-based, gap-free);
    the agent's greeting (``prompt_config.first_message``) is turn 0.

    The session row is locked while the index is chosen, so concurrent writers never collide.
    """
    from django.db.models import Max

    from sessions_app.models import Turn

    with transaction.atomic():
        Session.objects.select_for_update().filter(pk=session.pk).values_list("pk").first()
        last = Turn.objects.filter(session=session).aggregate(last=Max("index"))["last"]
        TURNS.inc()
        if first_spoken_ms is not None:
            FIRST_AUDIO_SECONDS.observe(first_spoken_ms / 1000)
        return Turn.objects.create(
            session=session,
            index=0 if greeting else (last or 0) + 1,
            version_label=version_label or session.version_label,
            agent_slug=agent_slug or session.agent_slug,
            user_text=user_text,
            spoken_text=spoken_text,
            structured_output=structured_output,
            validation_errors=list(validation_errors),
            llm_ttft_ms=llm_ttft_ms,
            first_spoken_ms=first_spoken_ms,
            tts_ttfb_ms=tts_ttfb_ms,
            e2e_latency_ms=e2e_latency_ms,
            end_of_turn_delay_ms=end_of_turn_delay_ms,
            transcription_delay_ms=transcription_delay_ms,
            spoken_complete_ms=spoken_complete_ms,
            interrupted=interrupted,
            tool_calls=list(tool_calls or []),
        )


def session_handoff_pins(*, session: Session) -> dict[str, Any]:
    """The session's pinned handoff versions, pinning them now if the session has none yet
    (one created before handoffs existed, or by hand): the published versions at this
    moment, as ``session_create`` pins them."""
    if session.handoff_versions is not None:
        return session.handoff_versions
    document = session.agent_version.document if session.agent_version else {}
    pins = handoff_pins(tenant_id=session.tenant_id, agent_id=session.agent_slug, document=document)
    Session.objects.filter(pk=session.pk, handoff_versions__isnull=True).update(
        handoff_versions=pins
    )
    session.handoff_versions = pins
    return pins


HANDOFF_KEYS = ("from_agent", "from_version", "to_agent", "to_version", "tool", "after_turn")


def session_handoff_record(*, session: Session, handoff: dict[str, Any]) -> dict[str, Any]:
    """Append one handoff between agents to the session (row locked: none is lost)."""
    entry = {key: handoff.get(key) for key in HANDOFF_KEYS}
    entry["at"] = timezone.now().isoformat()
    with transaction.atomic():
        locked = Session.objects.select_for_update().only("pk", "handoffs").get(pk=session.pk)
        handoffs = [*(locked.handoffs or []), entry]
        Session.objects.filter(pk=session.pk).update(handoffs=handoffs)
    session.handoffs = handoffs
    logger.info(
        "session %s: handoff %s@%s -> %s@%s",
        session.pk, entry["from_agent"], entry["from_version"],
        entry["to_agent"], entry["to_version"],
    )  # fmt: skip
    return entry


# --- Retention: per-tenant days for turns, reports, webhook deliveries and audit events ---

RETENTION_BATCH_SIZE = 5000


def _delete_in_batches(queryset: Any) -> int:
    """Delete ``queryset``'s rows a batch of primary keys at a time (short locks, bounded
    memory), returning how many went."""
    deleted = 0
    while True:
        batch = list(queryset.values_list("pk", flat=True)[:RETENTION_BATCH_SIZE])
        if not batch:
            return deleted
        queryset.model.objects.filter(pk__in=batch).delete()
        deleted += len(batch)


def retention_apply(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Delete what each tenant's retention settings say is too old; returns counts per kind.
    Open webhook deliveries (pending, retrying) are kept whatever their age."""
    from sessions_app.models import SessionReport, Turn
    from tenants.models import AuditEvent, WebhookDelivery, WebhookDeliveryStatus

    now = now or timezone.now()
    counts = {"turns": 0, "reports": 0, "webhook_deliveries": 0, "audit_events": 0}
    finished = [WebhookDeliveryStatus.SUCCEEDED, WebhookDeliveryStatus.FAILED]
    for tenant in Tenant.objects.exclude(
        retention_days_turns=None,
        retention_days_reports=None,
        retention_days_webhook_deliveries=None,
        retention_days_audit_events=None,
    ):

        def before(days: int) -> dt.datetime:
            return now - dt.timedelta(days=days)

        if tenant.retention_days_turns:
            counts["turns"] += _delete_in_batches(
                Turn.objects.filter(
                    session__tenant=tenant, created_at__lt=before(tenant.retention_days_turns)
                )
            )
        if tenant.retention_days_reports:
            counts["reports"] += _delete_in_batches(
                SessionReport.objects.filter(
                    session__tenant=tenant, created_at__lt=before(tenant.retention_days_reports)
                )
            )
        if tenant.retention_days_webhook_deliveries:
            counts["webhook_deliveries"] += _delete_in_batches(
                WebhookDelivery.objects.filter(
                    endpoint__tenant=tenant,
                    status__in=finished,
                    created_at__lt=before(tenant.retention_days_webhook_deliveries),
                )
            )
        if tenant.retention_days_audit_events:
            counts["audit_events"] += _delete_in_batches(
                AuditEvent.objects.filter(
                    tenant=tenant, created_at__lt=before(tenant.retention_days_audit_events)
                )
            )
    if any(counts.values()):
        logger.info("retention: deleted %s", counts)
    return counts
