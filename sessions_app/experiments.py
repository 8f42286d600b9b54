"""Comparison of an agent's versions on their sessions (for version experiments).

Per version: sessions, median LLM first-token latency, turns with validation errors, the
post-session analysis outcomes (success share and each ``outcome`` value) and the mean cost.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count

from agents_config.models import Agent
from sessions_app.models import Session, SessionReport, Turn
from tenants.stats import percentile


def version_comparison(*, agent: Agent) -> list[dict[str, Any]]:
    sessions = Session.objects.filter(agent=agent)
    rows = (
        sessions.values("version_label")
        .annotate(sessions=Count("pk"), mean_cost=Avg("cost_usd"))
        .order_by("version_label")
    )
    out = []
    for row in rows:
        label = row["version_label"]
        turns = Turn.objects.filter(session__agent=agent, session__version_label=label)
        ttft = [v for v in turns.values_list("llm_ttft_ms", flat=True) if v is not None]
        errors = [bool(e) for e in turns.values_list("validation_errors", flat=True)]
        analyses = SessionReport.objects.filter(
            session__agent=agent, session__version_label=label, analysis_status="done"
        ).values_list("analysis", flat=True)
        outcomes = Counter(str(a.get("outcome")) for a in analyses if a and "outcome" in a)
        successes = [bool(a.get("success")) for a in analyses if a]
        mean_cost = row["mean_cost"] or Decimal(0)
        p50 = percentile(ttft, 0.5)  # the project's one percentile (nearest-rank)
        out.append(
            {
                "version": label,
                "sessions": row["sessions"],
                "turns": len(errors),
                "llm_first_token_p50_ms": round(p50, 1) if p50 is not None else None,
                "turns_with_validation_errors": sum(errors),
                "analysed_sessions": len(successes),
                "success_rate": round(sum(successes) / len(successes), 3) if successes else None,
                "outcomes": dict(outcomes),
                "mean_cost_usd": str(mean_cost.quantize(Decimal("0.000001"))),
            }
        )
    return out
