"""Tracing: the per-session plan, our spans on the real agent, and export to a fake OTLP
receiver from real job processes (one traced and one untraced job on the same worker)."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from asgiref.sync import sync_to_async
from livekit.agents.telemetry import tracer
from livekit.protocol import models
from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agents_config.contracts import parse_document
from agents_config.factories import agent_document
from tests.fakes.otlp_receiver import FakeOtlpReceiver
from tests.worker.conftest import build_factory, demo_turn
from tests.worker.test_worker_agent import start_session
from tests.worker.test_worker_job import local_agent_server, make_session, status_of, wait_for
from worker import tracing
from worker.publisher import MemoryTurnPublisher
from worker.store import close_connections


def document(**tracing_config):
    raw = agent_document()
    raw["tracing_config"] = {**raw["tracing_config"], **tracing_config}
    return parse_document(raw)


def plan(doc, session_id="s-1", **keys):
    return tracing.plan_tracing(
        document=doc, session_id=session_id, user_id="alice", tenant_slug="acme", **keys
    )


def test_sampling_is_deterministic_per_session():
    ids = [f"session-{i}" for i in range(2000)]
    first = [tracing.sampled(i, 0.25) for i in ids]
    assert first == [tracing.sampled(i, 0.25) for i in ids]
    assert 0.2 < sum(first) / len(ids) < 0.3
    assert all(tracing.sampled(i, 1.0) for i in ids[:10])
    assert not any(tracing.sampled(i, 0.0) for i in ids[:10])


def test_plan_decisions():
    assert not plan(document(enabled=False)).enabled
    assert "credentials" in plan(document(enabled=True)).reason  # langfuse without keys
    traced = plan(
        document(enabled=True),
        langfuse_public_key="pk",
        langfuse_secret_key="sk",
        langfuse_host="https://lf.example.com",
    )
    assert traced.enabled
    assert traced.endpoint == "https://lf.example.com/api/public/otel/v1/traces"
    assert traced.headers["Authorization"] == "Basic " + base64.b64encode(b"pk:sk").decode()
    assert traced.attributes["langfuse.session.id"] == "s-1"
    assert traced.attributes["langfuse.user.id"] == "alice"
    assert traced.attributes["tenant.id"] == "acme"
    # the demo traces interview_stage and credibility_score, not the hidden assessment
    assert traced.allow_content is False
    named = plan(
        document(
            enabled=True,
            provider="otlp",
            endpoint="http://collector:4318",
            metadata_fields=["internal_assessment"],
        )
    )
    assert named.endpoint == "http://collector:4318/v1/traces" and named.allow_content is True
    never = next(s for s in (f"x{i}" for i in range(50)) if not tracing.sampled(s, 0.5))
    assert "not sampled" in plan(document(enabled=True, sample_rate=0.5), session_id=never).reason


def test_worker_switch_turns_tracing_off(monkeypatch):
    monkeypatch.setenv(tracing.TRACING_OFF_ENV, "1")
    doc = document(enabled=True, provider="otlp", endpoint="http://127.0.0.1:1")
    assert not plan(doc).enabled


def test_turn_attributes_only_named_fields():
    data = {
        "interview_stage": "financial_review",
        "credibility_score": 4,
        "internal_assessment": "secret",
        "red_flags": ["a"],
    }
    assert tracing.turn_attributes(("interview_stage", "red_flags"), data) == {
        "turn.interview_stage": "financial_review",
        "turn.red_flags": ["a"],
    }


@pytest.fixture
def memory_spans():
    """Route livekit's process-wide tracer to an in-memory exporter for one test."""
    exporter = InMemorySpanExporter()
    job = tracing.install(
        tracing.TracingPlan(enabled=True, reason="test", attributes={"session.id": "s-1"}),
        exporter=exporter,
    )
    exporter.flush = job.flush
    yield exporter
    job.shutdown()
    tracer.set_provider(trace_api.get_tracer_provider())


async def test_agent_spans_carry_named_fields_never_hidden_ones(fake_openai, memory_spans):
    fake_openai.add(
        demo_turn("How will you fund your studies?", interview_stage="financial_review")
    )
    factory = build_factory(fake_openai.base_url)
    session, agent, _ = await start_session(factory, MemoryTurnPublisher())
    try:
        await (await session.run(user_input="Hello"))
        await agent.turns.flush()
    finally:
        await session.aclose()
    memory_spans.flush()
    spans = {span.name: span for span in memory_spans.get_finished_spans()}
    assert {"agent.llm_node", "agent.extraction", "agent.tts_node"} <= set(spans)
    extraction = dict(spans["agent.extraction"].attributes)
    assert extraction["turn.interview_stage"] == "financial_review"
    assert extraction["turn.credibility_score"] == 6
    assert not any("internal_assessment" in key for key in extraction)
    assert all(span.attributes.get("session.id") == "s-1" for span in spans.values())


async def test_disabled_tracing_records_nothing(fake_openai):
    fake_openai.add(demo_turn("Hello."))
    factory = build_factory(fake_openai.base_url)
    session, _agent, _ = await start_session(factory, MemoryTurnPublisher())
    try:
        await (await session.run(user_input="Hi"))
    finally:
        await session.aclose()
    assert not tracer.start_span("probe").is_recording()


@pytest.mark.django_db(transaction=True)
async def test_traced_and_untraced_jobs_on_one_worker(job_env, tenant, monkeypatch):
    from agents_config.factories import make_agent
    from agents_config.services import agent_publish

    with FakeOtlpReceiver() as receiver:

        def setup():
            traced_doc = agent_document(agent_id="traced")
            traced_doc["tracing_config"] = {
                "enabled": True,
                "provider": "otlp",
                "endpoint": receiver.url,
                "sample_rate": 1.0,
                "metadata_fields": ["interview_stage"],
            }
            traced = make_agent(tenant=tenant, **traced_doc)
            agent_publish(agent=traced, version="1.0.0")
            plain = make_agent(tenant=tenant, agent_id="plain")
            agent_publish(agent=plain, version="1.0.0")
            traced.refresh_from_db()
            plain.refresh_from_db()
            return make_session(tenant=tenant, agent=traced), make_session(
                tenant=tenant, agent=plain
            )

        traced_session, plain_session = await sync_to_async(setup)()
        async with local_agent_server() as server:
            for session in (traced_session, plain_session):
                metadata = json.dumps({"session_id": str(session.id)})
                await server.simulate_job(
                    "va-test",
                    fake_job=True,
                    room_info=models.Room(name=f"va-{session.id.hex}", metadata=metadata),
                )
            for session in (traced_session, plain_session):
                assert await wait_for(lambda s=session: status_of(s.id) == "active", 60)
        for _ in range(50):  # the traced job flushes on shutdown
            if receiver.state.spans:
                break
            await asyncio.sleep(0.1)
        await close_connections()

    spans = receiver.state.spans
    assert spans, "the traced job exported nothing"
    assert "agent.config_load" in {span.name for span in spans}
    session_ids = {span.attributes.get("langfuse.session.id") for span in spans}
    assert session_ids == {str(traced_session.id)}
    config_load = next(span for span in spans if span.name == "agent.config_load")
    assert config_load.attributes["langfuse.user.id"] == "user-1"
    assert config_load.attributes["tenant.id"] == tenant.slug
    assert config_load.resource["agent.id"] == "traced"
