"""Tools in a turn: real livekit-agents + the real OpenAI plugin against the fake LLM (real
streamed ``tool_calls`` chunks) and a fake tenant API on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import logging

import pytest

from agents_config.contracts import parse_document
from agents_config.factories import agent_document
from agents_config.providers import ProviderKeys
from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCall, tool_call_reply, tool_messages
from tests.fakes.tool_server import FakeToolServer, ToolReply
from tests.worker.conftest import demo_turn
from worker.textmode import TextConversation
from worker.tools import ToolEnvironment

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "crm-s3cret-token-value"


@pytest.fixture
def fake_openai():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def api():
    with FakeToolServer() as server:
        yield server


def lookup_tool(base_url: str, **overrides):
    tool = {
        "kind": "http",
        "name": "lookup_order",
        "description": "Find an order by its number.",
        "parameters": [
            {"field_name": "order_id", "field_type": "str", "constraints": {"pattern": "^[0-9]+$"}},
            {"field_name": "note", "field_type": "str", "required": False},
        ],
        "url": base_url + "/orders/{order_id}",
        "headers": {"Authorization": "Bearer {{ secret.crm_token }}"},
        "response": {"fields": ["status", "eta"]},
    }
    tool.update(overrides)
    return tool


def document_with(fake_openai, tools, **tools_config):
    raw = agent_document()
    raw["llm_config"] = {**raw["llm_config"], "base_url": fake_openai.base_url}
    raw["tools_config"] = {"tools": tools, "filler_after_seconds": None, **tools_config}
    return parse_document(raw)


def conversation(document, **kwargs):
    env = ToolEnvironment(secrets={"crm_token": SECRET}, session_id="sess-1")
    return TextConversation(
        document=document,
        version="1.0.0",
        keys=ProviderKeys(openai="sk-test"),
        tool_env=env,
        **kwargs,
    )


async def test_an_http_tool_call_runs_and_the_next_generation_speaks_its_result(
    fake_openai, api, caplog
):
    caplog.set_level(logging.DEBUG)
    api.routes[("GET", "/orders/123 45")] = ToolReply({"status": "shipped", "eta": "Friday"})
    api.routes[("GET", "/orders/12345")] = ToolReply(
        {"status": "shipped", "eta": "Friday", "internal": "x" * 50}
    )
    fake_openai.add(
        tool_call_reply("lookup_order", {"order_id": "12345", "note": "a b&c"}),
        demo_turn("Your order ships Friday."),
    )
    document = document_with(fake_openai, [lookup_tool(api.base_url)])
    messages = []
    async with conversation(document, on_message=messages.append) as chat:
        record = await chat.say("Where is order 12345?")
        await chat.flush()

    assert record is not None
    assert record.spoken_text == "Your order ships Friday."
    assert record.user_text == "Where is order 12345?"
    assert record.errors == []
    [call] = record.tool_calls
    assert call["name"] == "lookup_order"
    assert call["arguments"] == {"order_id": "12345", "note": "a b&c"}
    assert call["status"] == "ok"
    assert call["duration_ms"] > 0
    assert json.loads(call["result"]) == {"status": "shipped", "eta": "Friday"}
    # the request: secret header resolved, unused argument URL-encoded in the query
    [request] = api.requests
    assert request.path == "/orders/12345"
    assert request.query == {"note": ["a b&c"]}
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    assert "idempotency-key" not in request.headers
    # the model got the tool schema, then the result
    first, second = fake_openai.chat_requests
    [tool_schema] = first["tools"]
    assert tool_schema["function"]["name"] == "lookup_order"
    params = tool_schema["function"]["parameters"]
    assert params["properties"]["order_id"]["pattern"] == "^[0-9]+$"
    [result] = tool_messages(second)
    assert json.loads(result["content"]) == {"status": "shipped", "eta": "Friday"}
    # one published message for the turn, with the tool call and no hidden field
    [message] = [m for m in messages if m.get("type") == "structured_turn"]
    assert message["tool_calls"][0]["name"] == "lookup_order"
    assert "internal_assessment" not in message["data"]
    assert SECRET not in caplog.text
    assert SECRET not in json.dumps(message)


async def test_invalid_arguments_are_a_tool_error_the_model_sees(fake_openai, api):
    fake_openai.add(
        tool_call_reply("lookup_order", {"order_id": "abc"}), demo_turn("Which number?")
    )
    document = document_with(fake_openai, [lookup_tool(api.base_url)])
    async with conversation(document) as chat:
        record = await chat.say("Where is my order?")
    assert api.requests == []
    [call] = record.tool_calls
    assert call["status"] == "error"
    assert "order_id" in call["result"]
    [result] = tool_messages(fake_openai.chat_requests[1])
    assert "invalid arguments" in result["content"]
    assert record.spoken_text == "Which number?"


@pytest.mark.parametrize(
    ("reply", "limit", "status", "fragment"),
    [
        (ToolReply({"error": "boom"}, status=500), 5, "error", "HTTP 500"),
        (ToolReply({"status": "late"}, delay=1.5), 0.3, "timeout", "did not answer within 0.3 s"),
    ],
)
async def test_failures_and_timeouts_come_back_as_errors_and_the_turn_goes_on(
    fake_openai, api, reply, limit, status, fragment
):
    api.routes[("GET", "/orders/1")] = reply
    fake_openai.add(
        tool_call_reply("lookup_order", {"order_id": "1"}), demo_turn("The system is down.")
    )
    document = document_with(fake_openai, [lookup_tool(api.base_url, timeout_seconds=limit)])
    async with conversation(document) as chat:
        record = await chat.say("Order 1?")
    [call] = record.tool_calls
    assert call["status"] == status
    assert fragment in call["result"]
    [result] = tool_messages(fake_openai.chat_requests[1])
    assert fragment in result["content"]
    assert record.spoken_text == "The system is down."


async def test_a_write_tool_sends_an_idempotency_key_and_a_json_body(fake_openai, api):
    api.routes[("POST", "/bookings")] = ToolReply({"booking": {"id": "B-7"}})
    tool = {
        "kind": "http",
        "name": "book",
        "description": "Book a slot.",
        "method": "POST",
        "effect": "write",
        "parameters": [
            {"field_name": "day", "field_type": "Literal['mon', 'tue']"},
            {"field_name": "seats", "field_type": "int", "constraints": {"ge": 1}},
        ],
        "url": api.base_url + "/bookings",
        "response": {"fields": ["booking.id"]},
    }
    fake_openai.add(
        Reply("", tool_calls=(ToolCall("book", {"day": "tue", "seats": 2}, id="call_w1"),)),
        demo_turn("Booked."),
    )
    async with conversation(document_with(fake_openai, [tool])) as chat:
        record = await chat.say("Book Tuesday for two.")
    [request] = api.requests
    assert request.method == "POST"
    assert request.body == {"day": "tue", "seats": 2}
    key = request.headers["idempotency-key"]
    assert len(key) == 40
    assert record.tool_calls[0]["result"] == '{"booking.id": "B-7"}'


async def test_a_filler_line_is_said_once_when_a_tool_runs_long(fake_openai, api):
    api.routes[("GET", "/orders/9")] = ToolReply({"status": "ok"}, delay=0.6)
    fake_openai.add(tool_call_reply("lookup_order", {"order_id": "9"}), demo_turn("Done."))
    document = document_with(
        fake_openai,
        [lookup_tool(api.base_url)],
        filler_after_seconds=0.1,
        filler_text="Let me check.",
    )
    said = []
    async with conversation(document) as chat:
        chat.session.on("speech_created", lambda event: said.append(event.source))
        record = await chat.say("Order 9?")
    assert record.spoken_text == "Done."
    assert record.tool_calls[0]["status"] == "ok"
    assert said.count("say") == 1


async def test_end_call_says_goodbye_and_ends_the_session(fake_openai):
    tool = {
        "kind": "end_call",
        "name": "end_call",
        "description": "End the call when the user is done.",
        "goodbye": "Goodbye, have a nice day.",
    }
    fake_openai.add(tool_call_reply("end_call"))
    closed = []
    async with conversation(document_with(fake_openai, [tool])) as chat:
        chat.session.on("close", lambda event: closed.append(event))
        await chat.say("That's all, thanks.")
        for _ in range(100):
            if closed:
                break
            import asyncio

            await asyncio.sleep(0.02)
        await chat.flush()
    assert closed

    [record] = chat.agent.turns.records
    assert record.spoken_text == "Goodbye, have a nice day."
    assert record.tool_calls[0]["name"] == "end_call"
    assert len(fake_openai.chat_requests) == 1  # no generation after hanging up


async def test_transfer_call_is_a_clear_error_outside_phone_calls(fake_openai):
    tool = {
        "kind": "transfer_call",
        "name": "to_human",
        "description": "Transfer to a person.",
        "phone_number": "+14155550100",
    }
    fake_openai.add(tool_call_reply("to_human"), demo_turn("I cannot transfer you here."))
    async with conversation(document_with(fake_openai, [tool])) as chat:
        record = await chat.say("A human please.")
    assert record.tool_calls[0]["status"] == "error"
    assert "phone calls" in record.tool_calls[0]["result"]


async def _interrupt_while_running(chat, api, text):
    import asyncio

    task = asyncio.ensure_future(chat.say(text))
    for _ in range(200):
        if api.requests:
            break
        await asyncio.sleep(0.01)
    assert api.requests, "the tool never ran"
    await asyncio.sleep(0.05)
    chat.session.interrupt(force=True)
    with contextlib.suppress(Exception):  # an interrupted run may end either way
        await asyncio.wait_for(task, timeout=10)
    for _ in range(500):  # until the call has an outcome (a shielded write finishes)
        if all(r.status != "running" for r, _ in chat.agent._tool_calls.values()):
            break
        await asyncio.sleep(0.01)


@pytest.mark.parametrize(("effect", "status"), [("read", "cancelled"), ("write", "ok")])
async def test_an_interruption_cancels_a_read_tool_but_never_a_write(
    fake_openai, api, effect, status
):
    method = "GET" if effect == "read" else "POST"
    api.routes[(method, "/orders/5")] = ToolReply({"status": "done"}, delay=0.8)
    fake_openai.add(tool_call_reply("lookup_order", {"order_id": "5"}), demo_turn("Okay."))
    tool = lookup_tool(api.base_url, effect=effect, method=method)
    async with conversation(document_with(fake_openai, [tool])) as chat:
        await _interrupt_while_running(chat, api, "Order 5?")
        [(record, _)] = chat.agent._tool_calls.values()
    assert record.status == status
    assert len(api.requests) == 1  # never sent twice
    if effect == "write":
        assert api.requests[0].completed
        assert record.duration_ms >= 800
    else:
        assert record.duration_ms < 800


async def test_a_write_call_executed_twice_runs_once(api):
    """livekit may execute the same call again (a replayed step): one request, one result."""
    import asyncio
    from types import SimpleNamespace

    from agents_config.contracts import parse_section
    from worker.tools import ToolCallRecord, ToolRunner

    api.routes[("POST", "/pay")] = ToolReply({"ok": True}, delay=0.2)
    config = parse_section(
        "tools_config",
        {
            "tools": [
                {
                    "kind": "http",
                    "name": "pay",
                    "description": "Pay.",
                    "method": "POST",
                    "effect": "write",
                    "url": api.base_url + "/pay",
                }
            ],
            "filler_after_seconds": None,
        },
    )

    class Host:
        def tool_call_record(self, call_id, name, arguments):
            return ToolCallRecord(call_id=call_id, name=name, arguments=arguments)

        def tool_call_done(self, record):
            pass

    env = ToolEnvironment(session_id="s")
    runner = ToolRunner(config.tools[0], config=config, env=env, host=Host())
    handle = SimpleNamespace(id="speech", interrupted=False)
    context = SimpleNamespace(
        function_call=SimpleNamespace(call_id="call_1"), speech_handle=handle, session=None
    )
    results = await asyncio.gather(runner({}, context), runner({}, context))
    await env.aclose()
    assert results == ['{"ok": true}', '{"ok": true}']
    assert len(api.requests) == 1


async def test_tool_calls_are_stored_on_the_turn_and_in_the_report(fake_openai, api, settings):
    from asgiref.sync import sync_to_async

    from agents_config.factories import make_agent
    from agents_config.services import agent_publish
    from sessions_app.models import Turn
    from sessions_app.reports import build_report
    from sessions_app.services import session_create
    from tenants.factories import TenantFactory
    from worker.store import SessionTurnStore, close_connections

    def setup():
        tenant = TenantFactory()
        agent = make_agent(tenant=tenant)
        agent_publish(agent=agent, version="1.0.0")
        return session_create(tenant=tenant, agent_id=agent.agent_id, user_id="u1")

    settings.LIVEKIT_URL = ""
    db_session = await sync_to_async(setup)()
    api.routes[("GET", "/orders/77")] = ToolReply({"status": "packed", "eta": "Monday"})
    fake_openai.add(tool_call_reply("lookup_order", {"order_id": "77"}), demo_turn("Monday."))
    document = document_with(fake_openai, [lookup_tool(api.base_url)])
    try:
        async with conversation(document, store=SessionTurnStore(str(db_session.id))) as chat:
            await chat.say("Order 77?")
            await chat.flush()
    finally:
        await close_connections()
    turn = await Turn.objects.aget(session_id=db_session.id)
    [call] = turn.tool_calls
    assert call["name"] == "lookup_order"
    assert call["status"] == "ok"
    assert call["arguments"] == {"order_id": "77"}
    assert "Monday" in call["result"]
    session = await sync_to_async(lambda: type(db_session).objects.get(pk=db_session.pk))()
    report = await sync_to_async(build_report)(session)
    await close_connections()
    assert report["turns"][0]["tool_calls"][0]["name"] == "lookup_order"


def test_talk_shows_tool_calls_as_they_happen(fake_openai, api, tenant, monkeypatch, settings):
    import io

    from django.core.management import call_command

    from agents_config.factories import make_agent
    from tenants.services import tenant_secret_set

    settings.OPENAI_API_KEY = "sk-test"
    agent = make_agent(tenant=tenant)
    agent.llm_config = {**agent.llm_config, "base_url": fake_openai.base_url}
    agent.tools_config = {"tools": [lookup_tool(api.base_url)], "filler_after_seconds": None}
    agent.save()
    tenant_secret_set(tenant=tenant, name="crm_token", value=SECRET)
    api.routes[("GET", "/orders/3")] = ToolReply({"status": "lost", "eta": None})
    fake_openai.add(tool_call_reply("lookup_order", {"order_id": "3"}), demo_turn("Sorry."))
    out = io.StringIO()
    monkeypatch.setattr("sys.stdin", io.StringIO("Order 3?\n"))
    call_command("talk", agent.agent_id, "--tenant", tenant.slug, "--draft", stdout=out)
    text = out.getvalue()
    assert '[tool lookup_order {"order_id": "3"} ...]' in text
    assert "[tool lookup_order ok in" in text
    assert "agent> Sorry." in text
    assert api.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in text


async def test_each_tool_call_is_a_tracing_span_without_secrets(fake_openai, api):
    from livekit.agents.telemetry import tracer
    from opentelemetry import trace as trace_api
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from worker import tracing

    exporter = InMemorySpanExporter()
    job = tracing.install(
        tracing.TracingPlan(enabled=True, reason="test", attributes={"session.id": "s-1"}),
        exporter=exporter,
    )
    try:
        api.routes[("GET", "/orders/8")] = ToolReply({"status": "ok", "eta": "now"})
        fake_openai.add(tool_call_reply("lookup_order", {"order_id": "8"}), demo_turn("Now."))
        async with conversation(document_with(fake_openai, [lookup_tool(api.base_url)])) as chat:
            await chat.say("Order 8?")
        job.flush()
        spans = [s for s in exporter.get_finished_spans() if s.name == "agent.tool_call"]
    finally:
        job.shutdown()
        tracer.set_provider(trace_api.get_tracer_provider())
    [span] = spans
    assert span.attributes["tool.name"] == "lookup_order"
    assert span.attributes["tool.status"] == "ok"
    assert span.attributes["tool.duration_ms"] > 0
    assert SECRET not in str(dict(span.attributes))


def test_a_session_gets_only_the_secrets_its_tools_name(tenant, fake_openai):
    from tenants.services import tenant_secret_set
    from worker.tools import tool_environment_for

    tenant_secret_set(tenant=tenant, name="crm_token", value=SECRET)
    tenant_secret_set(tenant=tenant, name="unrelated", value="other")
    document = document_with(fake_openai, [lookup_tool("https://api.example.com")])
    env = tool_environment_for(tenant_id=tenant.pk, document=document, session_id="s-9")
    assert env.secrets == {"crm_token": SECRET}
    assert env.session_id == "s-9"
    assert SECRET not in repr(env)


async def test_end_call_in_a_worker_session_ends_it_with_reason_agent_ended(fake_openai):
    import asyncio

    from worker.factory import AgentFactory
    from worker.lifecycle import SessionLifecycle
    from worker.publisher import MemoryTurnPublisher
    from worker.tools import AGENT_ENDED_REASON

    tool = {"kind": "end_call", "name": "end_call", "description": "Hang up.", "goodbye": "Bye."}
    document = document_with(fake_openai, [tool])
    factory = AgentFactory(document=document, keys=ProviderKeys(openai="sk-test"), text_only=True)
    from worker.agent import AgentBlueprint

    agent = factory.build_agent(
        blueprint=AgentBlueprint.for_session(document, version="1.0.0"),
        publisher=MemoryTurnPublisher(),
    )
    session = factory.build_session()
    ended: list[str] = []
    lifecycle = SessionLifecycle(session=session, agent=agent, on_end=ended.append)
    fake_openai.add(tool_call_reply("end_call"))
    await session.start(agent)
    try:
        await session.run(user_input="Bye now.")
        await asyncio.wait_for(lifecycle.ended.wait(), 10)
    finally:
        await session.aclose()
        await factory.aclose()
    assert ended == [AGENT_ENDED_REASON]
    assert [r.spoken_text for r in agent.turns.records] == ["Bye."]
