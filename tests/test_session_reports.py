"""Post-session reports: transcript, structured turns (hidden marked), final values, latency."""

from __future__ import annotations

import pytest

from sessions_app import services
from sessions_app.factories import SessionFactory, TurnFactory
from sessions_app.reports import session_report_store

pytestmark = pytest.mark.django_db


def demo_turn(session, index, **output):
    base = {
        "voice_instructions": "Formal.",
        "system_response": f"Question {index}?",
        "internal_assessment": f"note {index}",
        "interview_stage": "document_check",
        "credibility_score": 5,
        "red_flags": [],
    }
    base.update(output)
    return TurnFactory(
        session=session,
        index=index,
        user_text=f"answer {index}",
        spoken_text=base["system_response"],
        structured_output=base,
        llm_ttft_ms=100.0 + index,
        first_spoken_ms=300.0 + index,
        tts_ttfb_ms=150.0 + index,
    )


def test_report_contents_for_the_demo_agent(published_agent):
    session = SessionFactory(agent=published_agent)
    demo_turn(session, 0)
    demo_turn(
        session,
        1,
        interview_stage="financial_review",
        credibility_score=4,
        red_flags=["insufficient funds"],
    )
    last = demo_turn(
        session,
        2,
        interview_stage="final_decision",
        credibility_score=None,
        red_flags=["insufficient funds"],
    )
    last.validation_errors = ["credibility_score: Input should be a valid integer"]
    last.save()
    services.session_end(session=session, reason="user left")
    report = session_report_store(session=session).document

    assert report["agent"] == {"agent_id": published_agent.agent_id, "version": "1.0.0"}
    assert report["session"]["status"] == "ended"
    assert report["transcript"][1] == {"index": 1, "user": "answer 1", "agent": "Question 1?"}
    assert report["hidden_fields"] == ["internal_assessment"]
    assert report["turns"][0]["structured_output"]["internal_assessment"] == "note 0"
    assert report["final_values"]["interview_stage"] == "final_decision"
    assert report["final_values"]["credibility_score"] == 4  # the last non-null value
    assert report["final_values"]["red_flags"] == ["insufficient funds"]
    assert report["validation_errors"] == [
        {"turn": 2, "errors": ["credibility_score: Input should be a valid integer"]}
    ]
    assert report["usage"]["turns"] == 3
    assert report["latency_summary_ms"]["first_spoken_text"]["p50"] == 301.0
    assert report["timings"]["duration_seconds"] is not None
    assert set(report["timings"]["status_changes"]) == {"ended"}


def test_rebuilding_replaces_the_report(published_agent):
    session = SessionFactory(agent=published_agent)
    first = session_report_store(session=session)
    demo_turn(session, 0)
    second = session_report_store(session=session)
    assert first.pk == second.pk and second.document["usage"]["turns"] == 1
