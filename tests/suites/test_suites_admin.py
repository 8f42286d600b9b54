"""The admin: cases validated by the contract, "Run tests" (progress and a pass/fail table),
the suite page with the publish-gate switch, and scoping to the user's agents."""

from __future__ import annotations

import json

import pytest

from agents_config.test_suites.models import AgentTestCase, AgentTestRun
from agents_config.test_suites.services import agent_test_case_create
from tests.suites.conftest import by_prompt
from tests.worker.conftest import demo_turn

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(suite_agent, fake_openai):
    fake_openai.script = by_prompt({"Hello": demo_turn("Passport, please.")})
    return agent_test_case_create(
        agent=suite_agent,
        name="asks for passport",
        turns=[
            {
                "user": "Hello",
                "expect": [
                    {"kind": "spoken_contains", "value": "passport"},
                    {"kind": "equals", "field": "interview_stage", "value": "decision"},
                ],
            }
        ],
    )


def test_run_action_and_results_table(case, admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/agents_config/agenttestcase/",
            {"action": "run_selected", "_selected_action": [case.pk]},
            follow=True,
        )
    assert "Started" in response.content.decode()
    run = AgentTestRun.objects.get()
    assert run.status == "failed" and run.case == case
    page = admin_client.get(f"/admin/agents_config/agenttestrun/{run.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "<progress" in html and "1/1" in html
    assert "✔ spoken text contains &#x27;passport&#x27;" in html
    assert "✘ interview_stage == &#x27;decision&#x27;" in html
    assert 'http-equiv="refresh"' not in html  # finished runs stop refreshing
    listing = admin_client.get("/admin/agents_config/agenttestrun/").content.decode()
    assert "0 passed, 1 failed, 0 error(s)" in listing


def test_suite_page_runs_the_draft_and_switches_the_gate(
    case, suite_agent, admin_client, django_capture_on_commit_callbacks
):
    url = f"/admin/agents_config/agenttestrun/suite/{suite_agent.pk}/"
    page = admin_client.get(url)
    assert page.status_code == 200 and "asks for passport" in page.content.decode()
    admin_client.post(url, {"require": "1"})
    suite_agent.refresh_from_db()
    assert suite_agent.require_passing_tests is True
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"version": ""})
    run = AgentTestRun.objects.get()
    assert response.status_code == 302 and response.url.endswith(f"/{run.pk}/change/")
    assert run.case is None and run.version_label == "draft"
    agent_page = admin_client.get(f"/admin/agents_config/agent/{suite_agent.pk}/change/")
    assert url in agent_page.content.decode()  # the "Tests…" button


def test_agent_action_queues_suite_and_running_page_refreshes(case, suite_agent, admin_client):
    admin_client.post(
        "/admin/agents_config/agent/",
        {"action": "run_agent_test_suites", "_selected_action": [suite_agent.pk]},
    )
    run = AgentTestRun.objects.get()  # queued: on_commit not run inside the test transaction
    html = admin_client.get(f"/admin/agents_config/agenttestrun/{run.pk}/change/").content
    assert b'http-equiv="refresh"' in html


def test_case_form_validates_the_contract(suite_agent, admin_client):
    data = {
        "agent": suite_agent.pk,
        "name": "bad",
        "user_details": "{}",
        "overrides": "{}",
        "turns": json.dumps([{"user": "Hi", "expect": [{"kind": "nope"}]}]),
    }
    response = admin_client.post("/admin/agents_config/agenttestcase/add/", data)
    assert response.status_code == 200 and "kind" in response.content.decode()
    data["turns"] = json.dumps([{"user": "Hi", "expect": [{"kind": "valid"}]}])
    response = admin_client.post("/admin/agents_config/agenttestcase/add/", data)
    assert response.status_code == 302
    assert AgentTestCase.objects.get(name="bad").turns[0]["expect"] == [{"kind": "valid"}]


def test_members_see_only_their_agents_cases(case, member_factory, client, other_tenant):
    outsider = member_factory(other_tenant, "admin")
    client.force_login(outsider)
    assert (
        "asks for passport"
        not in client.get("/admin/agents_config/agenttestcase/").content.decode()
    )
    assert client.get(f"/admin/agents_config/agenttestcase/{case.pk}/change/").status_code in (
        302,
        403,
        404,
    )
    member = member_factory(case.agent.tenant, "developer")
    client.force_login(member)
    page = client.get("/admin/agents_config/agenttestcase/")
    assert page.status_code == 200 and "asks for passport" in page.content.decode()
