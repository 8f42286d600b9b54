"""Test-suite endpoints: cases (READ / UPDATE), runs (UPDATE to start, READ to follow), the
shared error shape, and isolation (owner / member / outsider)."""

from __future__ import annotations

import pytest

from agents_config.factories import make_agent
from agents_config.test_suites.models import AgentTestRun
from tests.suites.conftest import by_prompt
from tests.worker.conftest import demo_turn

pytestmark = pytest.mark.django_db

CASE = {
    "name": "greets",
    "user_details": {"applicant_name": "Ana"},
    "turns": [{"user": "Hello", "expect": [{"kind": "spoken_contains", "value": "passport"}]}],
}


def _url(agent, tail: str) -> str:
    return f"/api/v1/agents/config/{agent.agent_id}/tests/{tail}"


def test_create_list_run_and_follow(
    suite_agent, fake_openai, key_client, django_capture_on_commit_callbacks
):
    fake_openai.script = by_prompt({"Hello": demo_turn("Your passport, please.")})
    developer = key_client(suite_agent.tenant, "developer")
    response = developer.post(_url(suite_agent, "cases"), CASE, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["name"] == "greets"

    listed = key_client(suite_agent.tenant, "viewer").get(_url(suite_agent, "cases")).json()
    assert listed["count"] == 1 and listed["cases"][0]["turns"] == CASE["turns"]

    with django_capture_on_commit_callbacks(execute=True):
        response = developer.post(_url(suite_agent, "run"), {"case": "greets"}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and body["version"] == "draft"

    run = key_client(suite_agent.tenant, "viewer").get(_url(suite_agent, f"runs/{body['id']}"))
    assert run.status_code == 200
    data = run.json()
    assert data["status"] == "passed"
    assert data["progress"] == {"done": 1, "total": 1}
    assert data["case"] == "greets"
    turn = data["results"]["cases"][0]["turns"][0]
    assert turn["passed"] is True and turn["spoken_text"] == "Your passport, please."
    assert AgentTestRun.objects.get(pk=body["id"]).triggered_by.startswith("api-key:developer")


def test_errors_use_the_shared_shape(suite_agent, key_client):
    developer = key_client(suite_agent.tenant, "developer")
    bad = {
        **CASE,
        "turns": [
            {"user": "Hi", "expect": [{"kind": "matches", "field": "x", "pattern": r"(a)\1"}]}
        ],
    }
    response = developer.post(_url(suite_agent, "cases"), bad, format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert any("backreferences" in " ".join(m) for m in fields.values()), fields

    assert developer.post(_url(suite_agent, "cases"), CASE, format="json").status_code == 201
    again = developer.post(_url(suite_agent, "cases"), CASE, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"

    response = developer.post(_url(suite_agent, "run"), {"version": "3.0.0"}, format="json")
    assert response.status_code == 400 and "version" in response.json()["error"]["fields"]
    response = developer.post(_url(suite_agent, "run"), {"cases": "x"}, format="json")
    assert response.status_code == 400  # unknown key
    assert developer.get(_url(suite_agent, "runs/999999")).status_code == 404


def test_roles_and_isolation(suite_agent, key_client, other_tenant):
    viewer = key_client(suite_agent.tenant, "viewer")
    assert viewer.post(_url(suite_agent, "cases"), CASE, format="json").status_code == 403
    assert viewer.post(_url(suite_agent, "run"), {}, format="json").status_code == 403
    assert viewer.get(_url(suite_agent, "cases")).status_code == 200

    outsider = key_client(other_tenant, "admin")
    make_agent(tenant=other_tenant)  # same slug in another tenant: still not theirs to see
    own = key_client(suite_agent.tenant, "admin")
    assert own.post(_url(suite_agent, "cases"), CASE, format="json").status_code == 201
    run = AgentTestRun.objects.create(agent=suite_agent, version_label="draft")
    assert own.get(_url(suite_agent, f"runs/{run.pk}")).status_code == 200
    other = outsider.get(_url(suite_agent, f"runs/{run.pk}"))
    assert other.status_code == 404  # their agent of that slug has no such run
    assert outsider.get(_url(suite_agent, "cases")).json()["count"] == 0
    assert (
        key_client(suite_agent.tenant, "developer")
        .get("/api/v1/agents/config/no-such-agent/tests/cases")
        .status_code
        == 404
    )
