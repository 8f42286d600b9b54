"""Reads for sessions: tenant- and permission-scoped lists, details, reports."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from agents_config.models import Agent
from sessions_app.models import Session


def sessions_visible(*, tenant_id: int, agents: QuerySet[Agent], include_orphans: bool) -> QuerySet:
    """The tenant's sessions of ``agents`` (plus those whose agent was deleted, if asked)."""
    condition = Q(agent__in=agents)
    if include_orphans:
        condition |= Q(agent__isnull=True)
    return Session.objects.filter(condition, tenant_id=tenant_id).select_related("tenant")


def sessions_filtered(
    sessions: QuerySet[Session],
    *,
    agent_id: str | None = None,
    status: str | None = None,
    user_id: str | None = None,
    created_after: dt.datetime | None = None,
    created_before: dt.datetime | None = None,
) -> QuerySet[Session]:
    if agent_id:
        sessions = sessions.filter(agent_slug=agent_id)
    if status:
        sessions = sessions.filter(status=status)
    if user_id:
        sessions = sessions.filter(user_id=user_id)
    if created_after:
        sessions = sessions.filter(created_at__gte=created_after)
    if created_before:
        sessions = sessions.filter(created_at__lt=created_before)
    return sessions.order_by("-created_at")


def hidden_fields_of(session: Session) -> set[str]:
    document = session.agent_version.document if session.agent_version else {}
    fields = (document.get("schema_config") or {}).get("fields") or []
    return {f["field_name"] for f in fields if (f.get("metadata") or {}).get("hidden")}


def sessions_live(sessions: QuerySet[Session], *, now: dt.datetime | None = None) -> list[dict]:
    """Open sessions, oldest first, with their age and whether they look stuck: still
    pending or provisioned (no agent joined) after ``SESSION_STUCK_AFTER_SECONDS``."""
    from django.conf import settings
    from django.utils import timezone

    from sessions_app.models import OPEN_STATUSES, SessionStatus

    now = now or timezone.now()
    stuck_after = dt.timedelta(seconds=settings.SESSION_STUCK_AFTER_SECONDS)
    waiting = (SessionStatus.PENDING, SessionStatus.PROVISIONED)
    rows = []
    for session in sessions.filter(status__in=OPEN_STATUSES).order_by("created_at"):
        age = now - session.created_at
        rows.append(
            {
                "session": session,
                "age": age,
                "age_seconds": int(age.total_seconds()),
                "stuck": session.status in waiting and age > stuck_after,
            }
        )
    return rows
