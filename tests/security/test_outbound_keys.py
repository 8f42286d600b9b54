"""Platform keys never leave for a tenant-chosen host, checked at use: the suite runner and
its LLM judge (through POST .../tests/run), the worker's factory and job, and tracing.
A loopback listener stands in for the tenant's host and records everything it receives."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from agents_config.contracts import parse_document
from agents_config.factories import agent_document, make_agent
from agents_config.providers import ProviderConfigError, ProviderKeys
from agents_config.services import agent_publish, agent_update_sections
from agents_config.test_suites.services import agent_test_case_create
from tenants.services import credential_set
from tests.fakes.otlp_receiver import FakeOtlpReceiver
from tests.fakes.recording_server import RecordingServer
from worker import tracing
from worker.factory import AgentFactory

PLATFORM_KEY = "sk-platform-secret-0123456789"
TENANT_KEY = "sk-tenant-own-key"
KEY_REFUSAL = "llm_config.base_url: a custom endpoint needs the tenant's own openai credential"


@pytest.fixture
def listener():
    with RecordingServer() as server:
        yield server


@pytest.fixture
def platform_key(settings):
    settings.OPENAI_API_KEY = PLATFORM_KEY
    settings.OPENAI_BASE_URL = ""
    return settings


def _tenant_host_agent(agent, listener):
    """The draft points at the listener (saved while the test settings allow loopback)."""
    agent_update_sections(agent=agent, partial={"llm_config": {"base_url": f"{listener.url}/v1"}})
    judged = [{"kind": "llm_judge", "intent": "greets the applicant"}]
    agent_test_case_create(agent=agent, name="c", turns=[{"user": "Hi", "expect": judged}])
    return agent


def _run_via_api(agent, key_client, django_capture_on_commit_callbacks):
    from agents_config.test_suites.models import AgentTestRun

    developer = key_client(agent.tenant, "developer")
    with django_capture_on_commit_callbacks(execute=True):
        response = developer.post(
            f"/api/v1/agents/config/{agent.agent_id}/tests/run", {}, format="json"
        )
    assert response.status_code == 202, response.json()
    return AgentTestRun.objects.get(pk=response.json()["id"])


@pytest.mark.django_db
def test_tests_run_never_sends_the_platform_key_to_the_tenants_host(
    agent, listener, platform_key, key_client, django_capture_on_commit_callbacks
):
    _tenant_host_agent(agent, listener)
    platform_key.PLATFORM_KEY_ALLOWED_BASE_URLS = []  # the production default
    run = _run_via_api(agent, key_client, django_capture_on_commit_callbacks)
    assert run.status == "error"
    assert KEY_REFUSAL in run.error
    assert run.results["cases"][0]["status"] == "error"
    assert listener.state.connections == 0 and not listener.saw_secret(PLATFORM_KEY)


@pytest.mark.django_db
def test_the_tenants_own_key_goes_there_through_the_policy(
    agent, listener, platform_key, key_client, django_capture_on_commit_callbacks
):
    _tenant_host_agent(agent, listener)
    platform_key.PLATFORM_KEY_ALLOWED_BASE_URLS = []
    credential_set(tenant=agent.tenant, provider="openai", value=TENANT_KEY)
    # loopback is refused at connect time: nothing reaches the listener at all
    platform_key.OUTBOUND_ALLOWED_NETWORKS = []
    run = _run_via_api(agent, key_client, django_capture_on_commit_callbacks)
    assert run.status != "passed"
    assert listener.state.connections == 0
    # allowed by the deployment: the tenant's key (never the platform's) arrives
    platform_key.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    _run_via_api(agent, key_client, django_capture_on_commit_callbacks)
    assert listener.state.requests, "the positive control reached nothing"
    assert all(
        {k.lower(): v for k, v in r.headers.items()}["authorization"] == f"Bearer {TENANT_KEY}"
        for r in listener.state.requests
    )
    assert not listener.saw_secret(PLATFORM_KEY)


# --- worker factory ---------------------------------------------------------------------


def _factory(base_url: str, **keys) -> AgentFactory:
    raw = agent_document()
    raw["llm_config"] = {**raw["llm_config"], "base_url": base_url}
    return AgentFactory(document=parse_document(raw), keys=ProviderKeys(**keys), text_only=True)


def test_factory_refuses_the_platform_key_for_a_custom_base_url(settings, listener):
    settings.PLATFORM_KEY_ALLOWED_BASE_URLS = []
    factory = _factory(f"{listener.url}/v1", openai=PLATFORM_KEY)
    with pytest.raises(ProviderConfigError, match=r"llm_config\.base_url: a custom endpoint"):
        factory.build_llm()
    with pytest.raises(ProviderConfigError, match="needs the tenant's own openai credential"):
        factory.build_tts()  # OpenAI TTS uses the same base_url
    # the provider's own endpoint (the operator's OPENAI_BASE_URL) is fine
    settings.OPENAI_BASE_URL = f"{listener.url}/v1"
    assert _factory(f"{listener.url}/v1/", openai=PLATFORM_KEY).build_llm() is not None
    assert listener.state.connections == 0


async def test_factory_llm_with_the_tenants_key_connects_only_through_the_policy(
    settings, listener
):
    from livekit.agents import llm

    settings.PLATFORM_KEY_ALLOWED_BASE_URLS = []
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    model = _factory(f"{listener.url}/v1", openai=TENANT_KEY, openai_own=True).build_llm()
    chat = llm.ChatContext()
    chat.add_message(role="user", content="Hello")
    with pytest.raises(Exception):  # noqa: B017 - any failure; what matters is below
        async with model.chat(chat_ctx=chat) as stream:
            async for _ in stream:
                pass
    await model.aclose()
    assert listener.state.connections == 0


@pytest.mark.django_db(transaction=True)
async def test_job_fails_the_session_and_sends_nothing(job_env, tenant, listener, monkeypatch):
    """A real job process: the session fails with the reason; the listener hears nothing."""
    from sessions_app.models import Session, SessionStatus
    from tests.worker.test_worker_job import make_session, run_job, status_of
    from worker.store import close_connections

    def setup():
        agent = make_agent(tenant=tenant)
        agent_update_sections(
            agent=agent, partial={"llm_config": {"base_url": f"{listener.url}/v1"}}
        )
        agent_publish(agent=agent, version="1.0.0")
        agent.refresh_from_db()
        return make_session(tenant=tenant, agent=agent)

    session = await sync_to_async(setup)()
    # the job process's deployment lists no endpoint for platform keys but its own
    monkeypatch.setenv("PLATFORM_KEY_ALLOWED_BASE_URLS", "https://llm.platform.example")
    metadata = json.dumps({"session_id": str(session.id)})
    failed = await run_job(
        metadata, job_seconds=60, check=lambda: status_of(session.id) == SessionStatus.FAILED
    )
    reason = await sync_to_async(lambda: Session.objects.get(pk=session.id).failure_reason)()
    await close_connections()
    assert failed
    assert KEY_REFUSAL in reason
    assert listener.state.connections == 0


# --- tracing ----------------------------------------------------------------------------


def _traced(**config):
    raw = agent_document()
    raw["tracing_config"] = {**raw["tracing_config"], "enabled": True, **config}
    return parse_document(raw)


def _plan(document, **keys):
    return tracing.plan_tracing(
        document=document, session_id="s-1", user_id="u", tenant_slug="acme", **keys
    )


def test_tracing_never_sends_platform_langfuse_keys_to_a_custom_endpoint(settings, caplog):
    settings.PLATFORM_KEY_ALLOWED_BASE_URLS = []
    keys = {
        "langfuse_public_key": "pk-platform",
        "langfuse_secret_key": "sk-platform",
        "langfuse_host": "https://cloud.langfuse.com",
    }
    settings.LANGFUSE_HOST = "https://cloud.langfuse.com"
    with caplog.at_level("WARNING", logger="worker.tracing"):
        plan = _plan(_traced(endpoint="https://lf.tenant.example"), **keys)
    assert not plan.enabled
    assert "tracing_config.endpoint: a custom endpoint needs the tenant's own langfuse" in (
        plan.reason
    )
    assert "tracing disabled" in caplog.text
    assert _plan(_traced(), **keys).enabled  # the platform's own host
    own = _plan(_traced(endpoint="https://lf.tenant.example"), langfuse_own=True, **keys)
    assert own.enabled and own.tenant_endpoint


def test_tracing_exports_to_a_tenant_endpoint_only_through_the_policy(settings):
    from livekit.agents.telemetry import tracer
    from opentelemetry import trace as trace_api

    with FakeOtlpReceiver() as receiver:
        plan = _plan(_traced(provider="otlp", endpoint=receiver.url))
        assert plan.enabled and plan.tenant_endpoint
        for allowed, expect_spans in (([], False), (["127.0.0.0/8"], True)):
            settings.OUTBOUND_ALLOWED_NETWORKS = allowed
            job = tracing.install(plan)
            try:
                tracer.start_span("probe").end()
                job.flush()
            finally:
                job.shutdown()
                tracer.set_provider(trace_api.get_tracer_provider())
            assert bool(receiver.state.spans) is expect_spans


def test_the_judge_refuses_too(settings, listener):
    from agents_config.test_suites.runner import Judge

    settings.PLATFORM_KEY_ALLOWED_BASE_URLS = []
    document = _factory(f"{listener.url}/v1").document
    with pytest.raises(ProviderConfigError, match=r"judge: llm_config\.base_url"):
        Judge(document=document, keys=ProviderKeys(openai=PLATFORM_KEY))
    judge = Judge(document=document, keys=ProviderKeys(openai=TENANT_KEY, openai_own=True))
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    from agents_config.test_suites.expectations import LLMJudge, TurnView

    outcome = asyncio.run(
        judge(LLMJudge(kind="llm_judge", intent="x"), user_text="hi", turn=TurnView({}, "", []))
    )
    assert not outcome.passed and listener.state.connections == 0
