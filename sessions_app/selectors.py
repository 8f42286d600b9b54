"""Reads for sessions: tenant- and permission-scoped lists, details, reports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet

from agents_config.models import Agent
from sessions_app.models import Session


def sessions_visible(*, tenant_id: int, agents: QuerySet[Agent], include_orphans: bool) -> QuerySet:
    """The tenant's sessions of ``agents`` (plus those whose agent was deleted, if asked).

    Two branches joined by ``UNION ALL`` rather than one ``agent IN (…) OR agent IS NULL``:
    PostgreSQL cannot use an index for such an OR, so on a large table it read every session
    of the tenant; each branch alone is an indexed lookup (``session_agent_recent``, agent and
    created_at). A union takes no further ``filter()``: use ``sessions_list`` for a filtered,
    ordered list.
    """
    branches = _visible_branches(
        tenant_id=tenant_id, agents=agents, include_orphans=include_orphans
    )
    return branches[0].union(*branches[1:], all=True) if len(branches) > 1 else branches[0]


def _visible_branches(
    *, tenant_id: int, agents: QuerySet[Agent], include_orphans: bool
) -> list[QuerySet]:
    branches = [Session.objects.filter(tenant_id=tenant_id, agent__in=agents)]
    if include_orphans:
        branches.append(Session.objects.filter(tenant_id=tenant_id, agent__isnull=True))
    return branches


def sessions_list(
    *,
    tenant_id: int,
    agents: QuerySet[Agent],
    include_orphans: bool,
    **filters: Any,
) -> QuerySet[Session]:
    """``sessions_visible`` narrowed by the list's query parameters (``sessions_filtered``'s),
    newest first: each branch is filtered before the union, so each stays an indexed lookup."""
    branches = [
        sessions_filtered(branch, **filters).order_by()
        for branch in _visible_branches(
            tenant_id=tenant_id, agents=agents, include_orphans=include_orphans
        )
    ]
    combined = branches[0].union(*branches[1:], all=True) if len(branches) > 1 else branches[0]
    return combined.order_by("-created_at")


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


def agent_daily_metrics(
    *, agent: Agent, version: str | None = None, days: int = 30, today: dt.date | None = None
) -> dict:
    """Per day over the last ``days`` (the current time zone's days) for the agent, or one
    of its versions: p50/p90 of time to first spoken text and of TTS first byte (ms; the
    turns carry no first-audio time yet, these two bound it), the share of turns with
    validation errors (%), and sessions started. Percentiles: ``tenants.stats``."""
    from collections import defaultdict

    from django.db.models import Count
    from django.db.models.functions import TruncDate
    from django.utils import timezone

    from sessions_app.models import Turn
    from tenants.stats import percentile

    today = today or timezone.localdate()
    first = today - dt.timedelta(days=days - 1)
    day_list = [first + dt.timedelta(days=i) for i in range(days)]
    since = timezone.make_aware(dt.datetime.combine(first, dt.time.min))

    turns = Turn.objects.filter(session__agent=agent, created_at__gte=since)
    sessions = Session.objects.filter(agent=agent, created_at__gte=since)
    if version:
        turns = turns.filter(
            Q(version_label=version) | Q(version_label="", session__version_label=version)
        )
        sessions = sessions.filter(version_label=version)
    by_day: dict[dt.date, list[tuple]] = defaultdict(list)
    for day, spoken, ttfb, errors in turns.annotate(day=TruncDate("created_at")).values_list(
        "day", "first_spoken_ms", "tts_ttfb_ms", "validation_errors"
    ):
        by_day[day].append((spoken, ttfb, bool(errors)))
    started = dict(
        sessions.annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )

    def daily(index: int, q: float) -> list[float | None]:
        return [
            percentile([r[index] for r in by_day[d] if r[index] is not None], q) for d in day_list
        ]

    return {
        "days": day_list,
        "first_spoken_ms": {"p50": daily(0, 0.5), "p90": daily(0, 0.9)},
        "tts_ttfb_ms": {"p50": daily(1, 0.5), "p90": daily(1, 0.9)},
        "validation_error_pct": [
            round(100 * sum(r[2] for r in by_day[d]) / len(by_day[d]), 1) if by_day[d] else None
            for d in day_list
        ],
        "sessions": [started.get(d, 0) for d in day_list],
        "turn_count": sum(len(v) for v in by_day.values()),
    }
