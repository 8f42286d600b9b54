"""Post-session reports: what happened in a session, built once when it ends.

The report is a JSON document stored with the session. Hidden schema fields are included
(it is a private record for the tenant) and listed under ``hidden_fields`` so a consumer can
tell them apart; the frontend never receives them.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from agents_config.selectors import document_hidden_fields, document_schema_fields
from sessions_app.billing import session_cost_refresh, session_cost_report
from sessions_app.events import session_report_ready
from sessions_app.models import Session, SessionReport, Turn
from tenants.stats import percentile

REPORT_FORMAT = 1


def _latency_summary(values: list[float]) -> dict[str, float | None]:
    """p50/p90 by the project's one percentile (``tenants.stats``, nearest-rank)."""
    p50, p90 = percentile(values, 0.5), percentile(values, 0.9)
    return {
        "p50": round(p50, 1) if p50 is not None else None,
        "p90": round(p90, 1) if p90 is not None else None,
        "max": round(max(values), 1) if values else None,
    }


def _status_times(session: Session) -> dict[str, str]:
    times: dict[str, str] = {}
    for transition in session.transitions.all():
        times.setdefault(transition.to_status, transition.created_at.isoformat())
    return times


def build_report(session: Session) -> dict[str, Any]:
    """The report document for ``session`` (reads its turns and transitions)."""
    document = session.agent_version.document if session.agent_version else {}
    fields = document_schema_fields(document)
    field_names = [f["field_name"] for f in fields]
    hidden = [name for name in field_names if name in document_hidden_fields(document)]
    turns: list[Turn] = list(session.turns.order_by("index"))

    last_values: dict[str, Any] = {}
    for turn in turns:
        for name, value in (turn.structured_output or {}).items():
            if name in field_names and value is not None:
                last_values[name] = value

    def timings(attr: str) -> list[float]:
        return [v for v in (getattr(t, attr) for t in turns) if v is not None]

    ended = session.ended_at
    economics = session_cost_report(session)
    return {
        "format": REPORT_FORMAT,
        "session": {
            "session_id": str(session.id),
            "status": session.status,
            "failure_reason": session.failure_reason,
            "user_id": session.user_id,
            "user_details": session.user_details,
            "room_name": session.room_name,
        },
        "agent": {"agent_id": session.agent_slug, "version": session.version_label},
        # Agents reachable by handoff at their pinned versions, and each handoff made.
        "handoff_versions": {
            agent_id: pin.get("version")
            for agent_id, pin in (session.handoff_versions or {}).items()
            if isinstance(pin, dict)
        },
        "handoffs": list(session.handoffs or []),
        "timings": {
            "created_at": session.created_at.isoformat(),
            "ended_at": ended.isoformat() if ended else None,
            "duration_seconds": round((ended - session.created_at).total_seconds(), 1)
            if ended
            else None,
            "status_changes": _status_times(session),
        },
        "transcript": [
            {"index": t.index, "user": t.user_text, "agent": t.spoken_text} for t in turns
        ],
        "turns": [
            {
                "index": t.index,
                "agent_id": t.agent_slug or session.agent_slug,
                "version": t.version_label or session.version_label,
                "structured_output": t.structured_output,
                "validation_errors": t.validation_errors,
                "interrupted": t.interrupted,
                "tool_calls": t.tool_calls,
                "usage": t.usage,
                "latency_ms": {
                    "end_of_speech_to_first_audio": t.e2e_latency_ms,
                    "end_of_turn_delay": t.end_of_turn_delay_ms,
                    "transcription_delay": t.transcription_delay_ms,
                    "llm_first_token": t.llm_ttft_ms,
                    "first_spoken_text": t.first_spoken_ms,
                    "spoken_text_complete": t.spoken_complete_ms,
                    "tts_first_byte": t.tts_ttfb_ms,
                },
            }
            for t in turns
        ],
        "hidden_fields": hidden,
        "final_values": last_values,
        "validation_errors": [
            {"turn": t.index, "errors": t.validation_errors} for t in turns if t.validation_errors
        ],
        "usage": {
            "turns": len(turns),
            "user_characters": sum(len(t.user_text) for t in turns),
            "spoken_characters": sum(len(t.spoken_text) for t in turns),
            **economics["usage"],
        },
        "cost": economics["cost"],
        "latency_summary_ms": {
            "llm_first_token": _latency_summary(timings("llm_ttft_ms")),
            "first_spoken_text": _latency_summary(timings("first_spoken_ms")),
            "tts_first_byte": _latency_summary(timings("tts_ttfb_ms")),
            "end_of_speech_to_first_audio": _latency_summary(timings("e2e_latency_ms")),
            "end_of_turn_delay": _latency_summary(timings("end_of_turn_delay_ms")),
            "transcription_delay": _latency_summary(timings("transcription_delay_ms")),
            "spoken_text_complete": _latency_summary(timings("spoken_complete_ms")),
        },
    }


@transaction.atomic
def session_report_store(*, session: Session) -> SessionReport:
    """Build and store (or rebuild) the session's report (its final cost first)."""
    session_cost_refresh(session=session)
    document = build_report(session)
    previous = SessionReport.objects.filter(session=session).first()
    if previous is not None and "analysis" in previous.document:
        document["analysis"] = previous.document["analysis"]  # a rebuild keeps the analysis
    report, _ = SessionReport.objects.update_or_create(
        session=session, defaults={"document": document}
    )
    payload = {
        "session_id": str(session.pk),
        "tenant_pk": session.tenant_id,
        "agent_id": session.agent_slug,
        "version": session.version_label,
        "status": session.status,
        "report": report.document,
    }
    transaction.on_commit(lambda: session_report_ready.send(sender=SessionReport, **payload))
    return report
