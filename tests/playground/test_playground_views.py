"""Playground pages: login, the agent list, the agent page's schema (never hidden fields),
past sessions and the admin links, for a member and an outsider."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from agents_config.factories import make_agent
from agents_config.services import agent_set_enabled
from sessions_app.factories import TurnFactory
from sessions_app.models import Session
from sessions_app.playground import render_kind

pytestmark = pytest.mark.django_db


def page_config(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="playground-config" type="application/json">')
    body = html[start:].split(">", 1)[1].split("</script>", 1)[0]
    return json.loads(body)


def test_pages_need_a_login(client, demo_agent):
    for url in ("/playground/", f"/playground/{demo_agent.agent_id}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(f"/accounts/login/?next={url}")


def test_login_form_logs_in_and_goes_to_the_list(client, member, password):
    assert client.get("/accounts/login/").status_code == 200
    response = client.post(
        "/accounts/login/?next=/playground/", {"username": "ana", "password": password}
    )
    assert response.status_code == 302 and response["Location"] == "/playground/"
    bad = client.post("/accounts/login/", {"username": "ana", "password": "wrong"})
    assert bad.status_code == 200 and b"didn't match" in bad.content


def test_list_shows_usable_agents_only(client, member, demo_agent, tenant, outsider):
    make_agent(tenant=tenant, agent_id="draft-only", name="Draft only")  # never published
    disabled = make_agent(tenant=tenant, agent_id="switched-off", name="Switched off")
    from agents_config.services import agent_publish

    agent_publish(agent=disabled, version="1.0.0")
    agent_set_enabled(agent=disabled, enabled=False)

    client.force_login(member)
    html = client.get("/playground/").content.decode()
    assert f'data-agent="{demo_agent.agent_id}"' in html
    assert f"/playground/{demo_agent.agent_id}/?tenant={tenant.slug}" in html
    assert "draft-only" not in html and "switched-off" not in html

    client.force_login(outsider)
    html = client.get("/playground/").content.decode()
    assert demo_agent.agent_id not in html and 'id="agent-list-empty"' in html


def test_agent_page_passes_the_visible_schema_only(client, member, demo_agent, tenant):
    client.force_login(member)
    response = client.get(f"/playground/{demo_agent.agent_id}/?tenant={tenant.slug}")
    assert response.status_code == 200
    config = page_config(response)
    names = [f["name"] for f in config["schema"]]
    assert names == [
        "voice_instructions",
        "system_response",
        "interview_stage",
        "credibility_score",
        "red_flags",
        "documents_verified",
    ]
    assert "internal_assessment" not in response.content.decode()  # hidden: nowhere on the page
    by_name = {f["name"]: f for f in config["schema"]}
    assert by_name["system_response"]["spoken"] is True
    assert by_name["voice_instructions"]["tts_instructions"] is True
    assert by_name["credibility_score"]["render"] == {"kind": "int", "ge": 1, "le": 10}
    assert by_name["interview_stage"]["render"]["choices"][0] == "document_check"
    assert by_name["red_flags"]["render"] == {"kind": "list", "item": "str"}
    assert by_name["credibility_score"]["description"].startswith("Overall credibility")
    assert config["tenant"] == tenant.slug and config["version"] == "1.0.0"
    assert config["sessions_url"] == "/api/v1/sessions"
    assert "applicant_name" in config["user_detail_names"]
    assert 'src="/static/playground/vendor/livekit-client.umd.js"' in response.content.decode()


def test_agent_page_is_404_outside_the_tenant_or_unpublished(client, outsider, member, tenant):
    draft = make_agent(tenant=tenant)
    client.force_login(member)
    assert client.get(f"/playground/{draft.agent_id}/").status_code == 404
    client.force_login(outsider)
    assert client.get(f"/playground/{draft.agent_id}/?tenant={tenant.slug}").status_code == 404


def test_render_kind_covers_the_grammar():
    assert render_kind("bool", {}) == {"kind": "bool"}
    assert render_kind("float", {"gt": 0, "lt": 1}) == {"kind": "float", "gt": 0, "lt": 1}
    assert render_kind("list[Literal['a', 'b']]", {}) == {
        "kind": "list",
        "item": "literal",
        "choices": ["a", "b"],
    }
    assert render_kind("not a type", {}) == {"kind": "str"}


def make_session(agent) -> Session:
    from sessions_app.factories import SessionFactory

    return SessionFactory(
        tenant=agent.tenant,
        agent=agent,
        agent_version=agent.published_version,
        agent_slug=agent.agent_id,
        version_label="1.0.0",
    )


def test_past_session_page_replays_turns_without_hidden_fields(
    client, member, outsider, demo_agent
):
    session = make_session(demo_agent)
    TurnFactory(
        session=session,
        index=1,
        user_text="Good morning.",
        spoken_text="May I see your passport?",
        structured_output={
            "system_response": "May I see your passport?",
            "internal_assessment": "SECRET-NOTE",
            "credibility_score": 6,
        },
    )
    client.force_login(member)
    response = client.get(f"/playground/sessions/{session.pk}/")
    assert response.status_code == 200
    turns = page_config(response)["replay_turns"]
    assert turns[0]["data"] == {
        "system_response": "May I see your passport?",
        "credibility_score": 6,
    }
    assert turns[0]["user_text"] == "Good morning."
    assert "SECRET-NOTE" not in response.content.decode()
    client.force_login(outsider)
    assert client.get(f"/playground/sessions/{session.pk}/").status_code == 404


def test_admin_links_to_the_playground(admin_client, demo_agent, tenant):
    change = admin_client.get(reverse("admin:agents_config_agent_change", args=[demo_agent.pk]))
    assert f"/playground/{demo_agent.agent_id}/?tenant={tenant.slug}" in change.content.decode()
    assert "Try in playground" in change.content.decode()
    session = make_session(demo_agent)
    page = admin_client.get(reverse("admin:sessions_app_session_change", args=[session.pk]))
    html = page.content.decode()
    assert f"/playground/sessions/{session.pk}/" in html and 'href="#turns-group"' in html
    assert admin_client.get(f"/playground/sessions/{session.pk}/").status_code == 200
