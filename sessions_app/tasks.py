"""Celery tasks for sessions: thin wrappers that load by id, call a service and retry."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction

from sessions_app import analysis, services
from sessions_app.livekit import LiveKitError, delete_room
from sessions_app.models import Session, SessionReport
from sessions_app.reports import session_report_store
from tenants.platform.logging import set_log_context

logger = logging.getLogger(__name__)

PROVISION_MAX_RETRIES = 5


def _backoff(retries: int) -> float:
    return settings.SESSION_PROVISION_RETRY_BASE_SECONDS * (2**retries)


@shared_task(bind=True, max_retries=PROVISION_MAX_RETRIES, acks_late=True)
def provision_session_room(self, session_id: str) -> str:
    """Create the session's room and dispatch the agent; retried with exponential backoff on
    transient LiveKit errors, and the session marked failed after the last try."""
    set_log_context(session_id=session_id)
    session = (
        Session.objects.select_related("tenant", "agent_version").filter(pk=session_id).first()
    )
    if session is None:
        return "missing"
    set_log_context(
        tenant_id=session.tenant.slug,
        agent_id=session.agent_slug,
        version=session.version_label,
        user_id=session.user_id,
    )
    try:
        done = services.session_provision(session=session)
    except (LiveKitError, SoftTimeLimitExceeded) as exc:
        transient = isinstance(exc, SoftTimeLimitExceeded) or exc.transient
        if transient and self.request.retries < self.max_retries:
            logger.warning("provisioning %s failed, will retry: %s", session_id, exc)
            raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
        services.session_fail(session=session, reason=f"Provisioning failed: {exc}")
        return "failed"
    except Exception as exc:  # configuration errors: fail the session, never loop
        logger.exception("provisioning %s failed", session_id)
        services.session_fail(session=session, reason=f"Provisioning failed: {exc}")
        return "failed"
    return "provisioned" if done else "skipped"


@shared_task(bind=True, max_retries=PROVISION_MAX_RETRIES, acks_late=True)
def delete_session_room(self, room_name: str) -> None:
    try:
        delete_room(room_name)
    except LiveKitError as exc:
        if exc.transient and self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
        logger.warning("could not delete room %s: %s", room_name, exc)


@shared_task
def expire_sessions() -> int:
    """Beat: end sessions past their expiry time (their rooms are deleted, slots freed)."""
    return services.sessions_expire()


@shared_task
def reconcile_sessions() -> dict[str, int]:
    """Beat (every minute): re-queue or fail sessions stuck pending/provisioned."""
    return services.sessions_reconcile()


@shared_task
def reset_monthly_quotas() -> int:
    """Beat (1st of each month): open the new month's usage counters at zero."""
    return services.usage_open_month()


@shared_task(bind=True, max_retries=3, acks_late=True)
def build_session_report(self, session_id: str) -> str:
    """Build and store the post-session report once the session has ended or failed."""
    set_log_context(session_id=session_id)
    session = (
        Session.objects.select_related("tenant", "agent_version").filter(pk=session_id).first()
    )
    if session is None:
        return "missing"
    report = session_report_store(session=session)
    if report.analysis_status == "":
        report_id = report.pk
        transaction.on_commit(lambda: analyze_session.delay(report_id))
    return "stored"


@shared_task
def apply_retention() -> dict[str, int]:
    """Daily (beat): delete data older than each tenant's retention settings."""
    return services.retention_apply()


ANALYSIS_MAX_RETRIES = 3


@shared_task(bind=True, max_retries=ANALYSIS_MAX_RETRIES, acks_late=True)
def analyze_session(self, report_id: int) -> str:
    """Post-session analysis (``sessions_app.analysis``); an LLM failure is retried with
    backoff, and recorded as ``failed`` after the last try. The report is never blocked."""
    report = SessionReport.objects.select_related("session__agent_version", "session__agent")
    report = report.filter(pk=report_id).first()
    if report is None:
        return "missing"
    set_log_context(session_id=str(report.session_id))
    final = self.request.retries >= self.max_retries
    try:
        return analysis.session_analysis_run(report=report, final_attempt=final).analysis_status
    except analysis.AnalysisFailed as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
