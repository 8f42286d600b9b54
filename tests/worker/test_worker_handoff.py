"""Handoffs between agents (``transfer_to_agent``): text mode, the job, pinning, publishing."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from agents_config.contracts import parse_document
from agents_config.factories import agent_document
from tests.fakes.openai_server import FakeOpenAI, tool_call_reply
from tests.worker.conftest import demo_turn
from worker.factory import ProviderKeys
from worker.handoff import HANDOFF_MESSAGE_TYPE, HandoffDirectory, HandoffTarget
from worker.textmode import TextConversation

BILLING_INSTRUCTIONS = "You are the billing desk. Answer questions about invoices."


def transfer_tool(agent_id: str = "billing", **extra: Any) -> dict[str, Any]:
    return {
        "kind": "transfer_to_agent",
        "name": f"transfer_to_{agent_id.replace('-', '_')}",
        "description": f"Hand the conversation to the {agent_id} desk.",
        "agent_id": agent_id,
        **extra,
    }


def raw_document(base_url: str, *, agent_id: str, tools: list[dict] | None = None, **kw: Any):
    raw = agent_document(agent_id=agent_id, **kw)
    raw["llm_config"] = {**raw["llm_config"], "base_url": base_url}
    raw["tools_config"] = {"tools": tools or []}
    return raw


def billing_raw(base_url: str, **kw: Any) -> dict[str, Any]:
    raw = raw_document(base_url, agent_id="billing", **kw)
    raw["prompt_config"] = {
        **copy.deepcopy(raw["prompt_config"]),
        "instructions": BILLING_INSTRUCTIONS,
    }
    raw["tts_config"] = {**raw["tts_config"], "voice": "nova"}
    return raw


@pytest.fixture
def fake_llm():
    with FakeOpenAI() as server:
        yield server


def system_texts(body: dict[str, Any]) -> list[str]:
    return [str(m.get("content")) for m in body["messages"] if m["role"] in ("system", "developer")]


async def test_text_mode_handoff_carries_the_conversation_to_the_target(fake_llm):
    front = parse_document(
        raw_document(fake_llm.base_url, agent_id="front-desk", tools=[transfer_tool()])
    )
    billing = parse_document(billing_raw(fake_llm.base_url))
    directory = HandoffDirectory({"billing": HandoffTarget("billing", "2.1.0", billing)})
    fake_llm.add(
        demo_turn("Hello, front desk here."),
        tool_call_reply("transfer_to_billing"),
        demo_turn("Billing here: your invoice is paid."),
    )
    messages: list[dict[str, Any]] = []
    async with TextConversation(
        document=front,
        version="1.0.0",
        keys=ProviderKeys(openai="sk-test"),
        handoffs=directory,
        on_message=messages.append,
    ) as chat:
        first = await chat.say("Hi")
        second = await chat.say("I have a question about my invoice")
        await chat.flush()
        assert chat.current_agent.blueprint.document.agent_id == "billing"

    assert first is not None and first.agent_id == "front-desk"
    assert second is not None
    assert second.spoken_text == "Billing here: your invoice is paid."
    assert (second.agent_id, second.version, second.index) == ("billing", "2.1.0", 2)
    # the model was offered the transfer tool, then the target ran with its own prompt
    offered = [t["function"]["name"] for t in fake_llm.chat_requests[1].get("tools", [])]
    assert offered == ["transfer_to_billing"]
    target_request = fake_llm.chat_requests[2]
    assert any(BILLING_INSTRUCTIONS in text for text in system_texts(target_request))
    assert not any("consular officer" in text for text in system_texts(target_request))
    # ... and the history carried over: both user messages and the first spoken reply
    contents = json.dumps(target_request["messages"])
    assert "I have a question about my invoice" in contents and "Hi" in contents
    assert "Hello, front desk here." in contents
    assert "secret notes" not in contents  # the previous schema's hidden JSON stays behind
    handoff = next(m for m in messages if m.get("type") == HANDOFF_MESSAGE_TYPE)
    assert handoff["from_agent"] == "front-desk" and handoff["to_agent"] == "billing"
    assert handoff["to_version"] == "2.1.0"
    turn_messages = [m for m in messages if m.get("type") == "structured_turn"]
    assert [m["agent_id"] for m in turn_messages] == ["front-desk", "billing"]
    # the target's voice is its own
    assert chat.current_agent.tts._opts.voice == "nova"


async def test_unknown_target_is_a_tool_error_and_the_agent_goes_on(fake_llm):
    front = parse_document(
        raw_document(fake_llm.base_url, agent_id="front-desk", tools=[transfer_tool()])
    )
    fake_llm.add(tool_call_reply("transfer_to_billing"), demo_turn("I cannot transfer you."))
    async with TextConversation(
        document=front, version="1.0.0", keys=ProviderKeys(openai="sk-test")
    ) as chat:
        record = await chat.say("Billing please")
        assert chat.current_agent is chat.agent
    assert record is not None and record.spoken_text == "I cannot transfer you."
    tool_results = [m for m in fake_llm.chat_requests[1]["messages"] if m["role"] == "tool"]
    assert tool_results and "not available" in tool_results[0]["content"]


# --- publishing, pinning, recording (PostgreSQL) --------------------------------------------


def publish(tenant, agent_id: str, *, tools: list[dict] | None = None, version: str = "1.0.0"):
    from agents_config.factories import make_agent
    from agents_config.services import agent_publish

    raw = agent_document(agent_id=agent_id)
    raw["tools_config"] = {"tools": tools or []}
    agent = make_agent(tenant=tenant, **raw)
    agent_publish(agent=agent, version=version)
    agent.refresh_from_db()
    return agent


def republish(agent, version: str) -> None:
    from agents_config.services import agent_publish, agent_update_sections

    agent_update_sections(
        agent=agent, partial={"prompt_config": {"instructions": f"You are {version}."}}
    )
    agent_publish(agent=agent, version=version)
    agent.refresh_from_db()


@pytest.mark.django_db
def test_publishing_checks_the_handoff_targets(tenant, other_tenant):
    from agents_config.contracts import ContractError
    from agents_config.factories import make_agent
    from agents_config.services import agent_publish

    publish(other_tenant, "billing")  # another tenant's agent is no target
    make_agent(tenant=tenant, agent_id="drafty")  # never published
    raw = agent_document(agent_id="front-desk")
    raw["tools_config"] = {
        "tools": [transfer_tool("billing"), transfer_tool("drafty"), transfer_tool("front-desk")]
    }
    front = make_agent(tenant=tenant, **raw)
    with pytest.raises(ContractError) as caught:
        agent_publish(agent=front, version="1.0.0")
    errors = caught.value.errors
    assert "No agent 'billing' in this tenant." in errors["tools_config.tools[0].agent_id"]
    assert "no published version" in errors["tools_config.tools[1].agent_id"][0]
    assert "itself" in errors["tools_config.tools[2].agent_id"][0]
    assert front.versions.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_session_pins_every_reachable_agent_at_start(tenant):
    from sessions_app.services import session_create
    from worker.store import _load_session

    refunds = publish(tenant, "refunds")
    billing = publish(tenant, "billing", tools=[transfer_tool("refunds")])
    publish(tenant, "front-desk", tools=[transfer_tool("billing")])
    session = session_create(
        tenant=tenant, agent_id="front-desk", user_id="user-1", provision=False
    )
    assert {k: v["version"] for k, v in session.handoff_versions.items()} == {
        "billing": "1.0.0",
        "refunds": "1.0.0",
    }
    republish(billing, "1.1.0")  # published after the session started: not used by it
    republish(refunds, "1.1.0")
    loaded = _load_session(str(session.pk))
    assert {k: label for k, (label, _) in loaded.handoff_documents.items()} == {
        "billing": "1.0.0",
        "refunds": "1.0.0",
    }
    later = session_create(tenant=tenant, agent_id="front-desk", user_id="user-2", provision=False)
    assert later.handoff_versions["billing"]["version"] == "1.1.0"


@pytest.mark.django_db(transaction=True)
def test_a_session_without_pins_is_pinned_when_the_worker_loads_it(tenant):
    from sessions_app.models import Session
    from worker.store import _load_session

    publish(tenant, "billing")
    front = publish(tenant, "front-desk", tools=[transfer_tool("billing")])
    session = Session.objects.create(
        tenant=tenant,
        agent=front,
        agent_version=front.published_version,
        agent_slug="front-desk",
        version_label="1.0.0",
        user_id="user-1",
    )
    assert session.handoff_versions is None
    loaded = _load_session(str(session.pk))
    assert list(loaded.handoff_documents) == ["billing"]
    session.refresh_from_db()
    assert session.handoff_versions["billing"]["version"] == "1.0.0"


@pytest.mark.django_db
def test_handoffs_and_the_speaking_agent_are_in_the_report(tenant):
    from sessions_app.reports import build_report
    from sessions_app.services import session_create, session_handoff_record, turn_record

    publish(tenant, "billing", version="2.0.0")
    publish(tenant, "front-desk", tools=[transfer_tool("billing")])
    session = session_create(tenant=tenant, agent_id="front-desk", user_id="u", provision=False)
    turn_record(session=session, user_text="Hi", spoken_text="Hello", structured_output={},
                validation_errors=[])  # fmt: skip
    session_handoff_record(
        session=session,
        handoff={"from_agent": "front-desk", "from_version": "1.0.0", "to_agent": "billing",
                 "to_version": "2.0.0", "tool": "transfer_to_billing", "after_turn": 1},
    )  # fmt: skip
    turn_record(session=session, user_text="", spoken_text="Billing here", structured_output={},
                validation_errors=[], version_label="2.0.0", agent_slug="billing")  # fmt: skip
    session.refresh_from_db()
    report = build_report(session)
    assert report["handoff_versions"] == {"billing": "2.0.0"}
    (handoff,) = report["handoffs"]
    assert (handoff["from_agent"], handoff["to_agent"], handoff["after_turn"]) == (
        "front-desk",
        "billing",
        1,
    )
    assert handoff["at"]
    assert [(t["agent_id"], t["version"]) for t in report["turns"]] == [
        ("front-desk", "1.0.0"),
        ("billing", "2.0.0"),
    ]


# --- through the job (simulate_job: a real job process, PostgreSQL) -------------------------


@pytest.fixture
def tool_job_env(monkeypatch):
    """Like ``job_env``, with a fake OpenAI server that streams tool calls."""
    from django.db import connection

    with FakeOpenAI() as server:
        name = connection.settings_dict["NAME"]
        monkeypatch.setenv("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{name}")
        monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "config.test_settings")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("DEEPGRAM_API_KEY", "dg-test")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("LIVEKIT_AGENTS_PRELOAD_LOCAL_INFERENCE", "0")
        yield server


@pytest.mark.django_db(transaction=True)
async def test_a_handoff_in_a_simulated_job_is_stored_on_the_session(
    tool_job_env, tenant, settings
):
    from asgiref.sync import sync_to_async
    from livekit.agents import JobExecutorType
    from livekit.protocol import models

    # The job runs in this process (see ``local_agent_server``), so it reads these settings.
    settings.OPENAI_API_KEY, settings.DEEPGRAM_API_KEY = "sk-test", "dg-test"
    settings.OPENAI_BASE_URL = tool_job_env.base_url

    from sessions_app.models import Session, Turn
    from sessions_app.services import session_create
    from tests.worker.test_worker_job import local_agent_server, wait_for
    from worker.store import close_connections

    def setup():
        publish(tenant, "billing")
        raw = agent_document(agent_id="front-desk")
        raw["tools_config"] = {"tools": [transfer_tool("billing")]}
        raw["prompt_config"] = {**raw["prompt_config"], "first_message": {"mode": "generate"}}
        from agents_config.factories import make_agent
        from agents_config.services import agent_publish

        agent_publish(agent=make_agent(tenant=tenant, **raw), version="1.0.0")
        return session_create(
            tenant=tenant,
            agent_id="front-desk",
            user_id="user-1",
            user_details={"applicant_name": "Ana"},
            provision=False,
        )

    session = await sync_to_async(setup)()
    # The generated greeting calls the transfer tool; the billing agent then answers.
    tool_job_env.add(
        tool_call_reply("transfer_to_billing"), demo_turn("Billing desk, how can I help?")
    )
    metadata = json.dumps({"session_id": str(session.id)})

    def handed_over() -> bool:
        return Turn.objects.filter(session_id=session.id, agent_slug="billing").exists()

    async with local_agent_server(JobExecutorType.THREAD) as server:
        await server.simulate_job(
            "va-test", fake_job=True, room_info=models.Room(name="va-test", metadata=metadata)
        )
        stored = await wait_for(handed_over, seconds=60)
    await close_connections()
    assert stored
    row = await sync_to_async(lambda: Session.objects.get(pk=session.id))()
    (handoff,) = row.handoffs
    assert (handoff["from_agent"], handoff["to_agent"], handoff["to_version"]) == (
        "front-desk",
        "billing",
        "1.0.0",
    )
    turn = await sync_to_async(
        lambda: Turn.objects.filter(session_id=session.id, agent_slug="billing").first()
    )()
    assert turn.spoken_text == "Billing desk, how can I help?"
    assert turn.version_label == "1.0.0"


@pytest.mark.django_db
def test_manage_py_talk_shows_the_handoff_and_the_target_answers(
    tenant, fake_llm, settings, monkeypatch
):
    import io

    from django.core.management import call_command

    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = fake_llm.base_url
    publish(tenant, "billing", version="3.0.0")
    publish(tenant, "front-desk", tools=[transfer_tool("billing")])
    fake_llm.add(tool_call_reply("transfer_to_billing"), demo_turn("Billing here."))
    monkeypatch.setattr("sys.stdin", io.StringIO("My invoice please\n"))
    out = io.StringIO()
    call_command("talk", "front-desk", "--tenant", tenant.slug, stdout=out)
    text = out.getvalue()
    assert "[handoff front-desk@1.0.0 -> billing@3.0.0]" in text
    assert "agent> Billing here." in text
    assert text.index("[handoff") < text.index("agent> Billing here.")


async def test_the_handoff_message_is_spoken_by_the_first_agent_then_the_target_answers(
    fake_llm,
):
    front = parse_document(
        raw_document(
            fake_llm.base_url,
            agent_id="front-desk",
            tools=[transfer_tool(message="Let me put you through to billing.")],
        )
    )
    billing = parse_document(billing_raw(fake_llm.base_url))
    directory = HandoffDirectory({"billing": HandoffTarget("billing", "2.1.0", billing)})
    fake_llm.add(tool_call_reply("transfer_to_billing"), demo_turn("Billing here."))
    async with TextConversation(
        document=front, version="1.0.0", keys=ProviderKeys(openai="sk-test"), handoffs=directory
    ) as chat:
        await chat.say("Billing please")
        await chat.flush()
        records = list(chat.agent.turns.records)
    assert [(r.agent_id, r.spoken_text) for r in records] == [
        ("front-desk", "Let me put you through to billing."),
        ("billing", "Billing here."),
    ]
    assert [r.index for r in records] == [1, 2]


async def test_a_handoff_back_returns_to_the_first_agent_at_its_version(fake_llm):
    front = parse_document(
        raw_document(fake_llm.base_url, agent_id="front-desk", tools=[transfer_tool()])
    )
    billing = parse_document(billing_raw(fake_llm.base_url, tools=[transfer_tool("front-desk")]))
    directory = HandoffDirectory(
        {
            "billing": HandoffTarget("billing", "2.1.0", billing),
            "front-desk": HandoffTarget("front-desk", "1.0.0", front),
        }
    )
    fake_llm.add(
        tool_call_reply("transfer_to_billing"),
        demo_turn("Billing here."),
        tool_call_reply("transfer_to_front_desk"),
        demo_turn("Front desk again."),
    )
    async with TextConversation(
        document=front, version="1.0.0", keys=ProviderKeys(openai="sk-test"), handoffs=directory
    ) as chat:
        await chat.say("Billing please")
        await chat.say("Back to the front desk")
        await chat.flush()
        records = list(chat.agent.turns.records)
        handoffs = [(h["from_agent"], h["to_agent"]) for h in chat.handoffs.handoffs]
    assert [(r.agent_id, r.version, r.index) for r in records] == [
        ("billing", "2.1.0", 1),
        ("front-desk", "1.0.0", 2),
    ]
    assert handoffs == [("front-desk", "billing"), ("billing", "front-desk")]


@pytest.mark.django_db
def test_a_rollback_checks_the_handoff_targets_too(tenant):
    from agents_config.contracts import ContractError
    from agents_config.services import agent_delete, agent_rollback

    billing = publish(tenant, "billing")
    front = publish(tenant, "front-desk", tools=[transfer_tool("billing")])
    old = front.published_version
    agent_delete(agent=billing)
    with pytest.raises(ContractError) as caught:
        agent_rollback(agent=front, to_version=old)
    assert "No agent 'billing'" in caught.value.errors["tools_config.tools[0].agent_id"][0]
