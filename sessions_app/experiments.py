"""Comparison of an agent's versions on their sessions (for version experiments).

Per version: sessions, first-audio p50/p90 (end of user speech to the first audio frame),
LLM first-token p50, turns with validation errors (count and %), the post-session analysis
outcomes (success share and each ``outcome`` value) and the mean and total cost. Percentiles
are the project's one (``tenants.stats``, nearest-rank), as in the charts and reports.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, Sum

from agents_config.models import Agent
from sessions_app.billing import CENT_FRACTION
from sessions_app.models import Session, SessionReport, Turn
from tenants.stats import percentile


def _ms(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def version_comparison(*, agent: Agent, versions: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per version that has sessions, plus any of ``versions`` (e.g. the split's)
    that has none yet, ordered by version label."""
    sessions = Session.objects.filter(agent=agent)
    rows = {
        row["version_label"]: row
        for row in sessions.values("version_label").annotate(
            sessions=Count("pk"), mean_cost=Avg("cost_usd"), total_cost=Sum("cost_usd")
        )
    }
    for label in versions or []:
        rows.setdefault(
            label, {"version_label": label, "sessions": 0, "mean_cost": None, "total_cost": None}
        )
    out = []
    for label in sorted(rows):
        row = rows[label]
        turns = Turn.objects.filter(session__agent=agent, session__version_label=label)
        values = list(turns.values_list("llm_ttft_ms", "e2e_latency_ms", "validation_errors"))
        ttft = [v[0] for v in values if v[0] is not None]
        audio = [v[1] for v in values if v[1] is not None]
        errors = sum(bool(v[2]) for v in values)
        analyses = SessionReport.objects.filter(
            session__agent=agent, session__version_label=label, analysis_status="done"
        ).values_list("analysis", flat=True)
        outcomes = Counter(str(a.get("outcome")) for a in analyses if a and "outcome" in a)
        successes = [bool(a.get("success")) for a in analyses if a]
        mean_cost = row["mean_cost"] or Decimal(0)
        out.append(
            {
                "version": label,
                "sessions": row["sessions"],
                "turns": len(values),
                "first_audio_p50_ms": _ms(percentile(audio, 0.5)),
                "first_audio_p90_ms": _ms(percentile(audio, 0.9)),
                "llm_first_token_p50_ms": _ms(percentile(ttft, 0.5)),
                "turns_with_validation_errors": errors,
                "validation_error_pct": round(100 * errors / len(values), 1) if values else None,
                "analysed_sessions": len(successes),
                "success_rate": round(sum(successes) / len(successes), 3) if successes else None,
                "outcomes": dict(outcomes),
                "mean_cost_usd": str(mean_cost.quantize(CENT_FRACTION)),
                "total_cost_usd": str((row["total_cost"] or Decimal(0)).quantize(CENT_FRACTION)),
            }
        )
    return out
