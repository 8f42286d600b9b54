"""The publish gate: a passing whole-suite run on the exact draft is required, failures are
listed, and the service, admin action and API all honour it."""

from __future__ import annotations

import pytest

from agents_config.services import AgentConflict, agent_publish, agent_update_sections
from agents_config.test_suites.services import (
    agent_test_case_create,
    agent_test_gate_set,
    agent_test_run_execute,
    agent_test_run_start,
)
from tests.suites.conftest import by_prompt
from tests.worker.conftest import demo_turn

pytestmark = pytest.mark.django_db


@pytest.fixture
def gated(suite_agent, fake_openai):
    fake_openai.script = by_prompt({"Hello": demo_turn("Passport, please.", credibility_score=6)})
    agent_test_case_create(
        agent=suite_agent,
        name="score in range",
        turns=[
            {"user": "Hello", "expect": [{"kind": "range", "field": "credibility_score", "max": 4}]}
        ],
    )
    agent_test_case_create(agent=suite_agent, name="valid", turns=[{"user": "Hello"}])
    return agent_test_gate_set(agent=suite_agent, required=True)


def _suite(agent):
    return agent_test_run_execute(run=agent_test_run_start(agent=agent, enqueue=False))


def test_publish_needs_a_suite_run_on_the_draft(gated):
    with pytest.raises(AgentConflict, match="no suite run for the current draft"):
        agent_publish(agent=gated)
    assert not gated.versions.exists()


def test_failing_run_blocks_publish_and_lists_failures(gated, fake_openai):
    assert _suite(gated).status == "failed"
    with pytest.raises(AgentConflict) as exc:
        agent_publish(agent=gated)
    message = str(exc.value)
    assert "score in range: turn 1: credibility_score <= 4" in message
    assert "valid" not in message.split("failed:")[1].replace("score in range", "")

    # fix the agent (the fake answers a lower score), re-run on the new draft, publish
    fake_openai.script = by_prompt({"Hello": demo_turn("Passport, please.", credibility_score=3)})
    agent_update_sections(agent=gated, partial={"llm_config": {"temperature": 0.2}})
    with pytest.raises(AgentConflict, match="no suite run"):  # the failing run was on old content
        agent_publish(agent=gated)
    assert _suite(gated).status == "passed"
    assert agent_publish(agent=gated).version == "1.0.0"


def test_passing_run_goes_stale_when_cases_or_draft_change(gated, fake_openai):
    fake_openai.script = by_prompt({"Hello": demo_turn("Passport, please.", credibility_score=3)})
    assert _suite(gated).status == "passed"
    agent_test_case_create(agent=gated, name="new case", turns=[{"user": "Hello"}])
    with pytest.raises(AgentConflict, match="no suite run"):
        agent_publish(agent=gated)
    single = agent_test_run_start(agent=gated, case_name="new case", enqueue=False)
    agent_test_run_execute(run=single)
    with pytest.raises(AgentConflict, match="no suite run"):  # one case is not the suite
        agent_publish(agent=gated)
    assert _suite(gated).status == "passed"
    agent_publish(agent=gated, version="1.0.0")


def test_gate_off_publishes_without_runs(gated):
    agent_test_gate_set(agent=gated, required=False)
    assert agent_publish(agent=gated).version == "1.0.0"


def test_api_and_admin_publish_honour_the_gate(gated, key_client, admin_client):
    _suite(gated)
    response = key_client(gated.tenant, "developer").post(
        f"/api/v1/agents/config/{gated.agent_id}/publish", {}, format="json"
    )
    assert response.status_code == 409
    assert "score in range" in response.json()["error"]["message"]

    response = admin_client.post(
        "/admin/agents_config/agent/",
        {"action": "publish_selected", "_selected_action": [gated.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert "requires passing tests" in text and "score in range" in text
    assert not gated.versions.exists()
