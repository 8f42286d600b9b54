"""Post-session analysis with a fake OpenAI-compatible LLM: valid, invalid and failing."""

from __future__ import annotations

import json

import pytest

from agents_config.contracts import AnalysisConfig, ContractError, parse_section
from agents_config.services import agent_publish, agent_update_sections
from sessions_app import analysis, services
from sessions_app.factories import SessionFactory, TurnFactory
from sessions_app.models import SessionReport, SessionStatus
from tenants.factories import WebhookEndpointFactory
from tenants.models import WebhookDelivery
from tests.fakes.openai_server import FakeOpenAI, Reply

ANALYSIS = {
    "enabled": True,
    "summary_prompt": "Summarise the interview.",
    "success_criteria": "The officer reached a decision.",
    "outcome_fields": [
        {"field_name": "outcome", "field_type": "Literal['approved','refused','undecided']"},
        {"field_name": "follow_up_needed", "field_type": "bool"},
    ],
}


@pytest.fixture
def fake_llm(settings):
    settings.OPENAI_API_KEY = "sk-test"
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def analysed_agent(agent, fake_llm, monkeypatch):
    from sessions_app.webhooks import tasks as tenant_tasks

    monkeypatch.setattr(tenant_tasks.deliver_webhook, "delay", lambda delivery_id: None)
    llm = dict(agent.llm_config, base_url=fake_llm.base_url)
    agent = agent_update_sections(
        agent=agent, partial={"llm_config": llm, "analysis_config": ANALYSIS}
    )
    agent_publish(agent=agent, version="1.0.0")
    WebhookEndpointFactory(tenant=agent.tenant, events=["session.analysis_ready"])
    return agent


def end_session(agent):
    session = SessionFactory(agent=agent, status=SessionStatus.ACTIVE)
    TurnFactory(
        session=session,
        index=1,
        user_text="Here is my letter.",
        spoken_text="Your visa is approved.",
    )
    services.session_end(session=session, reason="user left")
    return session


def test_outcome_fields_use_the_schema_grammar_without_a_spoken_field():
    config = parse_section("analysis_config", ANALYSIS)
    schema = config.compile()
    assert schema.spoken_field is None
    assert list(schema.json_schema["properties"]) == [
        "summary",
        "success",
        "outcome",
        "follow_up_needed",
    ]
    with pytest.raises(ContractError) as info:
        parse_section(
            "analysis_config",
            {**ANALYSIS, "outcome_fields": [{"field_name": "x", "field_type": "strr"}]},
        )
    assert any(path.startswith("analysis_config.outcome_fields[0]") for path in info.value.errors)
    spoken = {"field_name": "x", "field_type": "str", "metadata": {"spoken": True}}
    with pytest.raises(ContractError):
        parse_section("analysis_config", {**ANALYSIS, "outcome_fields": [spoken]})
    assert AnalysisConfig().enabled is False


def test_a_valid_analysis_is_stored_on_the_report_and_announced(
    analysed_agent, fake_llm, django_capture_on_commit_callbacks
):
    fake_llm.add(
        json.dumps(
            {
                "summary": "Approved after the letter.",
                "success": True,
                "outcome": "approved",
                "follow_up_needed": False,
            }
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        session = end_session(analysed_agent)
    report = SessionReport.objects.get(session=session)
    assert report.analysis_status == "done", report.analysis_errors
    assert report.analysis == {
        "summary": "Approved after the letter.",
        "success": True,
        "outcome": "approved",
        "follow_up_needed": False,
    }
    assert report.document["analysis"]["result"]["outcome"] == "approved"
    assert report.document["cost"]["total"]  # the report itself was not held back
    [request] = fake_llm.chat_requests
    assert request["response_format"]["json_schema"]["name"] == "SessionAnalysis"
    assert "Your visa is approved." in request["messages"][1]["content"]
    [delivery] = WebhookDelivery.objects.filter(event="session.analysis_ready")
    assert delivery.payload["data"]["analysis"]["outcome"] == "approved"


def test_an_invalid_answer_is_recorded_with_its_errors(
    analysed_agent, fake_llm, django_capture_on_commit_callbacks
):
    fake_llm.add(
        json.dumps(
            {"summary": "Unclear.", "success": False, "outcome": "maybe", "follow_up_needed": True}
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        session = end_session(analysed_agent)
    report = SessionReport.objects.get(session=session)
    assert report.analysis_status == "invalid"
    assert any(error.startswith("outcome") for error in report.analysis_errors)
    assert report.analysis["follow_up_needed"] is True  # what validated is kept


def test_a_failing_llm_is_retried_then_recorded_as_failed(
    analysed_agent, fake_llm, settings, monkeypatch
):
    from sessions_app.tasks import analyze_session

    # eager retries re-apply the task; as on a worker, a retry is not an error
    monkeypatch.setitem(analyze_session.app.conf, "task_eager_propagates", False)
    settings.SESSION_PROVISION_RETRY_BASE_SECONDS = 0
    fake_llm.default_reply = Reply(status=500)
    from sessions_app.reports import session_report_store

    session = end_session(analysed_agent)  # on-commit work (report, analysis) not run here
    report = session_report_store(session=session)
    assert report.analysis_status == "" and report.document["transcript"]
    analyze_session.apply(args=[report.pk], throw=False)  # eager retries, as a worker would
    report.refresh_from_db()
    assert report.analysis_status == "failed"
    assert report.analysis_attempts == 4  # the first try and 3 retries
    assert "500" in report.analysis_errors[0]
    assert report.document["analysis"]["status"] == "failed"
    assert report.document["transcript"]  # the report stands
    assert len(fake_llm.chat_requests) == 4


def test_sampling_is_stable_per_session():
    ids = [f"00000000-0000-0000-0000-{n:012d}" for n in range(2000)]
    picked = [i for i in ids if analysis.analysis_sampled(i, 0.25)]
    assert 0.2 < len(picked) / len(ids) < 0.3
    assert picked == [i for i in ids if analysis.analysis_sampled(i, 0.25)]
    assert all(analysis.analysis_sampled(i, 1.0) for i in ids[:10])
