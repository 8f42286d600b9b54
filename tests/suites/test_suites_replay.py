"""Replay: a recorded session becomes a test case (user turns → script, structured turns →
baseline); a run against the draft shows turn by turn and field by field what changed."""

from __future__ import annotations

import pytest

from agents_config.services import AgentConflict, agent_publish
from agents_config.test_suites.models import AgentTestCase
from agents_config.test_suites.runner import format_report
from agents_config.test_suites.services import (
    agent_test_run_execute,
    agent_test_run_start,
    session_to_test_case,
)
from sessions_app.factories import SessionFactory, TurnFactory
from tests.suites.conftest import by_prompt
from tests.worker.conftest import demo_turn

pytestmark = pytest.mark.django_db

FIRST = {
    "voice_instructions": "Calm.",
    "system_response": "May I see your passport?",
    "internal_assessment": "ok",
    "interview_stage": "document_check",
    "credibility_score": 6,
    "red_flags": [],
}
SECOND = {**FIRST, "system_response": "How will you pay?", "interview_stage": "financial_review"}


@pytest.fixture
def recorded(suite_agent):
    agent_publish(agent=suite_agent, version="1.0.0")
    session = SessionFactory(agent=suite_agent, user_details={"applicant_name": "Ana"})
    for index, (user, data) in enumerate(
        [("Good morning.", FIRST), ("I have a scholarship.", SECOND)], start=1
    ):
        TurnFactory(
            session=session,
            index=index,
            user_text=user,
            spoken_text=data["system_response"],
            structured_output=data,
        )
    return session


def test_session_becomes_a_case_and_replay_shows_changes(recorded, suite_agent, fake_openai):
    case = session_to_test_case(session=recorded)
    assert [t["user"] for t in case.turns] == ["Good morning.", "I have a scholarship."]
    assert case.turns[0]["expect"] == [{"kind": "valid"}]
    assert [b["data"] for b in case.baseline] == [FIRST, SECOND]
    assert case.user_details == {"applicant_name": "Ana"}
    assert case.source_session_id == recorded.pk

    fake_openai.script = by_prompt(
        {
            "Good morning.": demo_turn(
                "May I see your passport?", voice_instructions="Calm.", internal_assessment="ok"
            ),
            "I have a scholarship.": demo_turn(
                "Which scholarship?",
                voice_instructions="Calm.",
                internal_assessment="ok",
                interview_stage="financial_review",
                credibility_score=8,
                red_flags=["unclear funding"],
            ),
        }
    )
    run = agent_test_run_execute(run=agent_test_run_start(agent=suite_agent, enqueue=False))
    assert run.status == "passed"  # replayed turns are still valid
    first, second = run.results["cases"][0]["turns"]
    assert first["changes"] == []
    assert second["changes"] == [
        {"field": "system_response", "before": "How will you pay?", "after": "Which scholarship?"},
        {"field": "credibility_score", "before": 6, "after": 8},
        {"field": "red_flags", "before": [], "after": ["unclear funding"]},
    ]
    report = format_report(run.results)
    assert "~ credibility_score: 6 -> 8" in report
    assert '~ red_flags: [] -> ["unclear funding"]' in report


def test_names_are_unique_and_empty_sessions_refused(recorded, suite_agent):
    first = session_to_test_case(session=recorded, name="replay")
    second = session_to_test_case(session=recorded, name="replay")
    assert (first.name, second.name) == ("replay", "replay (2)")
    empty = SessionFactory(agent=suite_agent)
    with pytest.raises(AgentConflict, match="no user turns"):
        session_to_test_case(session=empty)


def test_admin_action_turns_sessions_into_cases(recorded, admin_client):
    response = admin_client.post(
        "/admin/sessions_app/session/",
        {"action": "turn_into_test_case", "_selected_action": [str(recorded.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    case = AgentTestCase.objects.get(source_session=recorded)
    assert "Created test case" in response.content.decode()
    assert len(case.turns) == 2


def test_replay_expects_and_mocks_the_recorded_tool_calls(suite_agent):
    session = SessionFactory(agent=suite_agent)
    calls = [
        {
            "call_id": "c1",
            "name": "lookup_order",
            "kind": "http",
            "arguments": {"order_id": "12345"},
            "status": "ok",
            "duration_ms": 12.0,
            "result": '{"status": "shipped"}',
        },
        {"call_id": "c2", "name": "crm", "kind": "http", "arguments": {}, "status": "timeout",
         "duration_ms": 5000.0, "result": "crm did not answer"},
        {"call_id": "c3", "name": "mcp_search", "kind": "", "arguments": {}, "status": "ok",
         "duration_ms": 1.0, "result": "x"},
    ]  # fmt: skip
    TurnFactory(
        session=session,
        index=1,
        user_text="Where is order 12345?",
        spoken_text="Shipped.",
        structured_output=FIRST,
        tool_calls=calls,
    )
    case = session_to_test_case(session=session)
    assert case.turns[0]["expect"] == [
        {"kind": "valid"},
        {"kind": "tool_called", "tool": "lookup_order", "arguments": {"order_id": "12345"}},
        {"kind": "tool_called", "tool": "crm"},
    ]
    assert case.tool_mocks == {
        "lookup_order": {"result": {"status": "shipped"}},
        "crm": {"error": "crm did not answer"},
    }
