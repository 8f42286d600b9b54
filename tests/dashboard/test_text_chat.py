"""The playground's text chat (worker.chat): the same agent in text mode on the server,
against the fake OpenAI server; the conversation continues across POSTs."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache

from agents_config.services import agent_publish, agent_update_sections
from tenants.factories import MembershipFactory, UserFactory
from tests.fakes.openai_server import Reply
from tests.worker.conftest import demo_turn

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def chat_agent(agent, fake_openai):
    """The demo agent on the fake LLM, published 1.0.0."""
    agent_update_sections(
        agent=agent, partial={"llm_config": dict(agent.llm_config, base_url=fake_openai.base_url)}
    )
    agent_publish(agent=agent, version="1.0.0")
    agent.refresh_from_db()
    cache.clear()
    return agent


@pytest.fixture
def viewer_client(client, chat_agent):
    user = UserFactory(username="vera")
    MembershipFactory(user=user, tenant=chat_agent.tenant, role="viewer")
    client.force_login(user)
    return client


def post(client, agent, **body):
    return client.post(
        f"/playground/{agent.agent_id}/text-chat",
        json.dumps({"tenant": agent.tenant.slug, **body}),
        content_type="application/json",
    )


def test_a_conversation_on_the_live_version_then_the_draft(viewer_client, chat_agent, fake_openai):
    fake_openai.add(demo_turn("Good morning. Your passport, please."))
    first = post(viewer_client, chat_agent, message="Hello", reset=True)
    assert first.status_code == 200, first.content
    turn = first.json()["turn"]
    assert first.json()["version"] == "1.0.0"
    assert turn["turn"] == 1 and turn["spoken_text"] == "Good morning. Your passport, please."
    assert "internal_assessment" not in turn["data"]  # hidden: never sent to the page
    assert turn["data"]["interview_stage"] == "document_check"

    fake_openai.add(demo_turn("Thank you. Why this university?"))
    second = post(viewer_client, chat_agent, message="Here it is.")
    assert second.json()["turn"]["turn"] == 2
    sent = json.dumps(fake_openai.chat_requests[-1]["messages"])
    assert "Your passport, please." in sent  # the conversation continued

    agent_update_sections(agent=chat_agent, partial={"llm_config": {"temperature": 0.1}})
    fake_openai.add(demo_turn("Draft speaking."))
    draft = post(viewer_client, chat_agent, message="Hi draft", version="draft")
    assert draft.json()["version"] == "draft" and draft.json()["turn"]["turn"] == 1
    assert "Why this university" not in json.dumps(fake_openai.chat_requests[-1]["messages"])


def test_bad_requests_are_4xx(viewer_client, chat_agent, client, other_tenant):
    assert post(viewer_client, chat_agent, message="").status_code == 400
    assert post(viewer_client, chat_agent, message="Hi", version="9.9.9").status_code == 400
    assert viewer_client.get(f"/playground/{chat_agent.agent_id}/text-chat").status_code == 405
    outsider = UserFactory(username="otto")
    MembershipFactory(user=outsider, tenant=other_tenant, role="admin")
    client.force_login(outsider)
    assert post(client, chat_agent, message="Hi").status_code == 404


def test_login_required(client, chat_agent):
    response = post(client, chat_agent, message="Hi")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_hostile_json_is_a_400_not_a_500(viewer_client, chat_agent):
    """The chat is an entry point like the API: the shared JSON limits apply."""
    url = f"/playground/{chat_agent.agent_id}/text-chat"
    for body in ("[" * 10_000 + "]" * 10_000, '{"message": NaN}', '{"message": "\\udfff"}'):
        response = viewer_client.post(url, body, content_type="application/json")
        assert response.status_code == 400, body[:20]
        assert response.json()["error"]["code"] == "invalid"


def sse_events(response) -> list[tuple[str, dict]]:
    """The (event, data) pairs of a text/event-stream body; comments skipped."""
    raw = b"".join(response.streaming_content).decode()
    events = []
    for block in raw.split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if lines:
            name = next(line[6:].strip() for line in lines if line.startswith("event:"))
            data = "".join(line[5:].strip() for line in lines if line.startswith("data:"))
            events.append((name, json.loads(data)))
    return events


def test_the_answer_streams_as_server_sent_events(viewer_client, chat_agent, fake_openai):
    """Spoken text arrives in several ``text`` events before the structured ``turn``; the
    hidden field is in neither; the conversation continues on the next streamed POST."""
    spoken = "Good morning. Your passport and your admission letter, please."
    fake_openai.add(Reply(demo_turn(spoken), token_size=3))
    response = viewer_client.post(
        f"/playground/{chat_agent.agent_id}/text-chat",
        json.dumps({"tenant": chat_agent.tenant.slug, "message": "Hello", "reset": True}),
        content_type="application/json",
        HTTP_ACCEPT="text/event-stream",
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    events = sse_events(response)
    names = [name for name, _ in events]
    assert names[-1] == "turn" and set(names[:-1]) == {"text"}
    deltas = [data["delta"] for name, data in events if name == "text"]
    assert len(deltas) >= 3  # incremental, not one block
    assert "".join(deltas).strip() == spoken
    turn = events[-1][1]["turn"]
    assert turn["turn"] == 1 and turn["spoken_text"] == spoken
    assert "secret notes" not in json.dumps(events)

    fake_openai.add(demo_turn("Thank you."))
    again = viewer_client.post(
        f"/playground/{chat_agent.agent_id}/text-chat",
        json.dumps({"tenant": chat_agent.tenant.slug, "message": "Here."}),
        content_type="application/json",
        HTTP_ACCEPT="text/event-stream",
    )
    assert sse_events(again)[-1][1]["turn"]["turn"] == 2  # the session was saved mid-stream
    assert spoken in json.dumps(fake_openai.chat_requests[-1]["messages"])


def test_a_failing_llm_streams_the_fallback_line_and_an_invalid_turn(
    viewer_client, chat_agent, fake_openai
):
    """Provider trouble mid-turn is the worker's behaviour: the fallback line is spoken and
    the turn is marked invalid with the error; the stream ends normally, never a 500."""
    fake_openai.add(*[Reply(status=500)] * 4)
    response = viewer_client.post(
        f"/playground/{chat_agent.agent_id}/text-chat",
        json.dumps({"tenant": chat_agent.tenant.slug, "message": "Hello", "reset": True}),
        content_type="application/json",
        HTTP_ACCEPT="text/event-stream",
    )
    events = sse_events(response)
    assert [name for name, _ in events] == ["text", "turn"]
    turn = events[-1][1]["turn"]
    assert turn["valid"] is False and any("LLM error" in e for e in turn["errors"])
    assert events[0][1]["delta"] == turn["spoken_text"]
