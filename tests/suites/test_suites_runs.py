"""Runs through the worker's text mode against the fake server: every expectation kind passing
and failing, the judge model, versions and the draft, Celery on commit, errors."""

from __future__ import annotations

import pytest

from agents_config.services import agent_publish, agent_update_sections
from agents_config.test_suites.models import AgentTestRun
from agents_config.test_suites.services import (
    agent_test_case_create,
    agent_test_run_execute,
    agent_test_run_start,
)
from tests.suites.conftest import by_prompt
from tests.worker.conftest import demo_turn

pytestmark = pytest.mark.django_db

REPLY = demo_turn(
    "May I see your passport and your admission letter?",
    interview_stage="document_check",
    credibility_score=6,
    red_flags=["vague answer"],
    internal_assessment="Nervous but polite.",
)
INTENT_OK = "the officer asks for documents"
INTENT_BAD = "the officer asks about funding"

PASSING = [
    {"kind": "equals", "field": "interview_stage", "value": "document_check"},
    {"kind": "one_of", "field": "interview_stage", "values": ["document_check", "decision"]},
    {"kind": "range", "field": "credibility_score", "min": 5, "max": 7},
    {"kind": "contains", "field": "red_flags", "value": "vague answer"},
    {"kind": "contains", "field": "internal_assessment", "value": "polite"},
    {"kind": "matches", "field": "system_response", "pattern": r"passport\b.*letter\?$"},
    {"kind": "present", "field": "voice_instructions"},
    {"kind": "absent", "field": "decision_reason"},
    {"kind": "spoken_contains", "value": "PASSPORT"},
    {"kind": "spoken_not_contains", "value": "bank statement"},
    {"kind": "valid"},
    {"kind": "llm_judge", "intent": INTENT_OK},
]
FAILING = [
    {"kind": "equals", "field": "interview_stage", "value": "financial_review"},
    {"kind": "one_of", "field": "interview_stage", "values": ["decision"]},
    {"kind": "range", "field": "credibility_score", "min": 8},
    {"kind": "contains", "field": "red_flags", "value": "forged documents"},
    {"kind": "contains", "field": "internal_assessment", "value": "hostile"},
    {"kind": "matches", "field": "system_response", "pattern": r"^\d+$"},
    {"kind": "present", "field": "decision_reason"},
    {"kind": "absent", "field": "red_flags"},
    {"kind": "spoken_contains", "value": "bank statement"},
    {"kind": "spoken_not_contains", "value": "passport"},
    {"kind": "llm_judge", "intent": INTENT_BAD, "judge_model": "judge-large"},
]


def _judge_script():
    return by_prompt(
        {"Good morning, officer.": REPLY, "Broken": "not json at all"},
        judge={
            INTENT_OK: {"pass": True, "reason": "asks for the passport"},
            INTENT_BAD: {"pass": False, "reason": "no question about money"},
        },
    )


def _run(agent, **kwargs) -> AgentTestRun:
    run = agent_test_run_start(agent=agent, enqueue=False, **kwargs)
    return agent_test_run_execute(run=run)


def test_every_expectation_kind_passes_and_fails(suite_agent, fake_openai):
    fake_openai.script = _judge_script()
    agent_test_case_create(
        agent=suite_agent,
        name="passes",
        turns=[{"user": "Good morning, officer.", "expect": PASSING}],
    )
    agent_test_case_create(
        agent=suite_agent,
        name="fails",
        turns=[
            {"user": "Good morning, officer.", "expect": FAILING},
            {"user": "Broken", "expect": [{"kind": "valid"}]},
        ],
    )
    run = _run(suite_agent)

    assert run.status == "failed"
    assert (run.progress_done, run.progress_total) == (2, 2)
    cases = {c["name"]: c for c in run.results["cases"]}
    assert cases["passes"]["status"] == "passed"
    [turn] = cases["passes"]["turns"]
    assert [c["kind"] for c in turn["expectations"] if not c["passed"]] == []
    assert turn["data"]["internal_assessment"] == "Nervous but polite."  # hidden fields too
    assert turn["duration_ms"] > 0 and turn["llm_ttft_ms"] is not None

    failed_turn, broken_turn = cases["fails"]["turns"]
    outcomes = {(c["kind"], c["passed"]) for c in failed_turn["expectations"]}
    assert all(not passed for _, passed in outcomes)
    kinds = {kind for kind, _ in outcomes} | {"valid"}
    assert kinds == {c["kind"] for c in PASSING}  # every kind, both ways
    assert broken_turn["passed"] is False
    [valid] = broken_turn["expectations"]
    assert valid["passed"] is False and "plain text" in valid["detail"]
    judge_bad = next(c for c in failed_turn["expectations"] if c["kind"] == "llm_judge")
    assert "no question about money" in judge_bad["detail"]
    judge_requests = [
        r for r in fake_openai.chat_requests if "judge of an automated" in str(r["messages"][0])
    ]
    assert {r["model"] for r in judge_requests} == {"gpt-4o-mini", "judge-large"}
    assert run.results["summary"] == {"cases": 2, "passed": 1, "failed": 1, "errors": 0}


def test_runs_a_published_version_or_the_draft(suite_agent, fake_openai):
    agent_publish(agent=suite_agent, version="1.0.0")
    agent_update_sections(
        agent=suite_agent, partial={"prompt_config": {"instructions": "DRAFT PROMPT"}}
    )
    fake_openai.script = by_prompt({"Hello": REPLY})
    agent_test_case_create(
        agent=suite_agent,
        name="greeting",
        user_details={"applicant_name": "Ana"},
        turns=[{"user": "Hello", "expect": [{"kind": "valid"}]}],
    )
    published = _run(suite_agent, version="1.0.0", case_name="greeting")
    assert published.status == "passed" and published.version_label == "1.0.0"
    assert "DRAFT PROMPT" not in str(fake_openai.chat_requests[-1]["messages"])
    assert "Ana" in str(fake_openai.chat_requests[-1]["messages"])
    draft = _run(suite_agent, version="draft")
    assert draft.status == "passed" and draft.version_label == "draft"
    assert draft.case is None
    assert "DRAFT PROMPT" in str(fake_openai.chat_requests[-1]["messages"])
    assert draft.checksum != published.checksum


def test_start_enqueues_celery_task_on_commit(
    suite_agent, fake_openai, django_capture_on_commit_callbacks
):
    fake_openai.script = by_prompt({"Hello": REPLY})
    agent_test_case_create(agent=suite_agent, name="c", turns=[{"user": "Hello"}])
    with django_capture_on_commit_callbacks(execute=True):
        run = agent_test_run_start(agent=suite_agent)
        assert run.status == "queued"
    run.refresh_from_db()
    assert run.status == "passed"
    assert run.started_at and run.finished_at and run.triggered_by == "system"


def test_unknown_version_case_and_empty_suite(suite_agent):
    from agents_config.contracts import ContractError
    from agents_config.services import AgentConflict

    with pytest.raises(AgentConflict, match="no test cases"):
        agent_test_run_start(agent=suite_agent, enqueue=False)
    agent_test_case_create(agent=suite_agent, name="c", turns=[{"user": "Hi"}])
    with pytest.raises(ContractError, match="no version"):
        agent_test_run_start(agent=suite_agent, version="9.9.9", enqueue=False)
    with pytest.raises(ContractError, match="no test case"):
        agent_test_run_start(agent=suite_agent, case_name="nope", enqueue=False)


def test_missing_provider_key_is_an_errored_run(suite_agent, settings):
    settings.OPENAI_API_KEY = ""
    agent_test_case_create(agent=suite_agent, name="c", turns=[{"user": "Hi"}])
    run = _run(suite_agent)
    assert run.status == "error"
    assert "no OpenAI API key" in run.error
    assert run.results["cases"][0]["status"] == "error"
