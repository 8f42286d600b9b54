"""Reads for sessions: tenant- and permission-scoped lists, details, reports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet

from agents_config.models import Agent
from agents_config.selectors import document_hidden_fields
from sessions_app.models import Session, Turn
from tenants.models import Tenant
from tenants.stats import percentile


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
    return document_hidden_fields(session.agent_version.document if session.agent_version else {})


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


TOOL_FAILURE_STATUSES = frozenset({"error", "timeout"})
"""A tool call that failed the model (``cancelled`` is the user interrupting, not a fault)."""


def agent_daily_metrics(
    *, agent: Agent, version: str | None = None, days: int = 30, today: dt.date | None = None
) -> dict:
    """Per day over the last ``days`` (the current time zone's days) for the agent, or one
    of its versions: p50/p90 of first audio (``Turn.e2e_latency_ms``: end of user speech to
    the first audio frame), of time to first spoken text and of TTS first byte (ms), the
    first-audio p50 of each version (when no version is chosen), the share of turns with
    validation errors (%), tool calls and the share that failed (%: status ``error`` or
    ``timeout``), and sessions started. Percentiles: ``tenants.stats``."""
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
    audio_by_version: dict[str, dict[dt.date, list[float]]] = defaultdict(lambda: defaultdict(list))
    rows = turns.annotate(day=TruncDate("created_at")).values_list(
        "day",
        "first_spoken_ms",
        "tts_ttfb_ms",
        "validation_errors",
        "e2e_latency_ms",
        "version_label",
        "session__version_label",
        "tool_calls",
    )
    tool_calls: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0])  # [calls, failed]
    for day, spoken, ttfb, errors, audio, label, session_label, calls in rows:
        by_day[day].append((spoken, ttfb, bool(errors), audio))
        for call in calls or []:
            tool_calls[day][0] += 1
            tool_calls[day][1] += call.get("status") in TOOL_FAILURE_STATUSES
        if audio is not None:
            audio_by_version[label or session_label or "?"][day].append(audio)
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
        "first_audio_ms": {"p50": daily(3, 0.5), "p90": daily(3, 0.9)},
        "first_audio_p50_by_version": {
            label: [percentile(per_day[d], 0.5) for d in day_list]
            for label, per_day in sorted(audio_by_version.items())
        }
        if not version
        else {},
        "first_spoken_ms": {"p50": daily(0, 0.5), "p90": daily(0, 0.9)},
        "tts_ttfb_ms": {"p50": daily(1, 0.5), "p90": daily(1, 0.9)},
        "validation_error_pct": [
            round(100 * sum(r[2] for r in by_day[d]) / len(by_day[d]), 1) if by_day[d] else None
            for d in day_list
        ],
        "sessions": [started.get(d, 0) for d in day_list],
        "tool_calls": [tool_calls[d][0] if d in tool_calls else 0 for d in day_list],
        "tool_error_pct": [
            round(100 * tool_calls[d][1] / tool_calls[d][0], 1) if d in tool_calls else None
            for d in day_list
        ],
        "turn_count": sum(len(v) for v in by_day.values()),
    }


def agent_turn_latency(*, agent: Agent, recent: int = 500) -> dict[str, dict[str, float | None]]:
    """p50/p90 (ms) of time to first spoken text and of TTS first byte over the agent's
    ``recent`` latest turns (nearest-rank; ``None`` when no turn has the measurement)."""
    # The turns of the agent's ``recent`` latest sessions (index session_agent_recent, then
    # unique_turn_index), not a sort of every turn the agent ever had.
    latest_sessions = (
        Session.objects.filter(agent=agent).order_by("-created_at").values("pk")[:recent]
    )
    rows = list(
        Turn.objects.filter(session__in=latest_sessions)
        .order_by("-created_at")
        .values_list("first_spoken_ms", "tts_ttfb_ms")[:recent]
    )

    def percentiles(values: list[float]) -> dict[str, float | None]:
        return {
            "p50": percentile(values, 0.5),
            "p90": percentile(values, 0.9),
            "count": len(values),
        }

    return {
        "first_spoken_ms": percentiles([r[0] for r in rows if r[0] is not None]),
        "tts_ttfb_ms": percentiles([r[1] for r in rows if r[1] is not None]),
    }


def agent_open_sessions_refusal(agent: Agent) -> str | None:
    """Why ``agent`` may not be deleted: it has open sessions (a delete guard)."""
    from sessions_app.models import OPEN_STATUSES

    if Session.objects.filter(agent=agent, status__in=OPEN_STATUSES).exists():
        return f"Agent {agent.agent_id!r} has active sessions; end them before deleting it."
    return None


def tenant_usage(*, tenant: Tenant) -> dict[str, int]:
    """Current usage counted from sessions: open now, and started this calendar month
    (tenant's time zone). Kept here so the source can move to a usage table."""
    import datetime as dt
    import zoneinfo

    from sessions_app.models import OPEN_STATUSES
    from sessions_app.services import month_period

    first_day, _ = month_period(tenant)
    zone = zoneinfo.ZoneInfo(tenant.time_zone)
    month_start = dt.datetime.combine(first_day, dt.time(), tzinfo=zone)
    sessions = Session.objects.filter(tenant=tenant)
    return {
        "open_sessions": sessions.filter(status__in=OPEN_STATUSES).count(),
        "sessions_this_month": sessions.filter(created_at__gte=month_start).count(),
    }


def tenant_spend(*, tenant: Tenant) -> dict[str, Any]:
    """This month's cost and budgets (computed by ``sessions_app.billing``)."""
    from sessions_app.billing import tenant_spend as month_spend

    return month_spend(tenant=tenant)
