"""Per-session tracing: OpenTelemetry spans to Langfuse (OTLP) or any OTLP/HTTP endpoint.

livekit-agents has one process-wide tracer provider. Each job runs in its own process, so the
entrypoint decides for its session alone: when tracing is off (or the session is not sampled)
no provider, exporter or span processor is installed and nothing is sent; when on, a provider
with an OTLP/HTTP exporter is installed before the session starts and flushed at shutdown.

We export with the plain OTLP exporter rather than the Langfuse SDK's span processor, so every
livekit-agents span reaches Langfuse (the SDK's default filter would drop many of them).
Sampling is decided once per session from its id, so all of a session's spans are kept or none.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agents_config.contracts import AgentDocument

logger = logging.getLogger(__name__)

# Set by ``run_agent_worker --no-tracing`` (inherited by job processes).
TRACING_OFF_ENV = "VOICEAGENTS_TRACING_OFF"
LANGFUSE_OTLP_PATH = "/api/public/otel/v1/traces"


def sampled(session_id: str, sample_rate: float) -> bool:
    """Deterministic per session: the same id always gets the same answer."""
    if sample_rate >= 1.0:
        return True
    if sample_rate <= 0.0:
        return False
    bucket = int(hashlib.sha256(session_id.encode()).hexdigest()[:8], 16) / 0x1_0000_0000
    return bucket < sample_rate


@dataclass(frozen=True)
class TracingPlan:
    """What a job does about tracing, decided before the session starts."""

    enabled: bool
    reason: str
    endpoint: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, str] = field(default_factory=dict)
    metadata_fields: tuple[str, ...] = ()
    allow_content: bool = True
    tenant_endpoint: bool = False
    """The endpoint comes from the agent's config: export through the outbound-URL policy."""


def _traces_url(endpoint: str) -> str:
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else f"{endpoint}/v1/traces"


def langfuse_credentials(stored: str, env_public: str, env_secret: str) -> tuple[str, str]:
    """A tenant's stored ``public_key:secret_key``, else the environment's pair."""
    if stored and ":" in stored:
        public, _, secret = stored.partition(":")
        return public.strip(), secret.strip()
    return env_public, env_secret


def plan_tracing(
    *,
    document: AgentDocument,
    session_id: str,
    user_id: str,
    tenant_slug: str,
    langfuse_public_key: str = "",
    langfuse_secret_key: str = "",
    langfuse_host: str = "",
    langfuse_own: bool = False,
) -> TracingPlan:
    """Decide tracing for one session (the document already has session overrides applied).

    ``langfuse_own``: the Langfuse keys are the tenant's own. The platform's keys go only to
    endpoints ``platform_key_refusal`` allows; otherwise tracing is off for the session and
    the reason is logged.
    """
    config = document.tracing_config
    if os.environ.get(TRACING_OFF_ENV) == "1":
        return TracingPlan(False, "tracing is switched off for this worker")
    if not config.enabled:
        return TracingPlan(False, "tracing is disabled for this agent")
    if not sampled(session_id, config.sample_rate):
        return TracingPlan(False, f"session not sampled (rate {config.sample_rate})")
    headers: dict[str, str] = {}
    if config.provider == "langfuse":
        if not (langfuse_public_key and langfuse_secret_key):
            return TracingPlan(False, "no Langfuse credentials (tenant or environment)")
        if not langfuse_own:
            from tenants.secrets import platform_key_refusal

            refusal = platform_key_refusal(
                provider="langfuse", url=config.endpoint, field="tracing_config.endpoint"
            )
            if refusal is not None:
                logger.warning("session %s: tracing disabled: %s", session_id, refusal)
                return TracingPlan(False, str(refusal))
        host = (config.endpoint or langfuse_host).rstrip("/")
        endpoint = host if host.endswith("/v1/traces") else f"{host}{LANGFUSE_OTLP_PATH}"
        token = base64.b64encode(f"{langfuse_public_key}:{langfuse_secret_key}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    else:
        endpoint = _traces_url(config.endpoint or "")
    compiled = document.compiled_schema()
    named = tuple(config.metadata_fields)
    attributes = {
        "langfuse.session.id": session_id,
        "langfuse.user.id": user_id,
        "session.id": session_id,
        "user.id": user_id,
        "tenant.id": tenant_slug,
        "agent.id": document.agent_id,
        "agent.version": document.version,
    }
    return TracingPlan(
        enabled=True,
        reason="traced",
        endpoint=endpoint,
        headers=headers,
        attributes=attributes,
        metadata_fields=named,
        # livekit's own spans carry the raw model output; if it holds hidden fields that the
        # agent did not name for tracing, keep conversation content out of the export.
        allow_content=not (compiled.hidden_fields - set(named)),
        tenant_endpoint=bool(config.endpoint),
    )


class JobTracing:
    """The installed provider of a traced job; ``shutdown`` flushes and stops it."""

    def __init__(self, provider: Any) -> None:
        self._provider = provider

    def flush(self) -> None:
        self._provider.force_flush()

    def shutdown(self) -> None:
        try:
            self.flush()
        finally:
            self._provider.shutdown()


def install(plan: TracingPlan, *, exporter: Any = None) -> JobTracing | None:
    """Install a tracer provider for this job when the plan says so (else do nothing)."""
    if not plan.enabled:
        logger.info("tracing off: %s", plan.reason)
        return None
    from livekit.agents.telemetry import set_tracer_provider
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(
        resource=Resource.create({"service.name": "voiceagents-worker", **plan.attributes})
    )
    if exporter is None:
        from tenants.outbound import requests_session

        # A tenant-supplied endpoint is called only through the outbound-URL policy.
        session = requests_session() if plan.tenant_endpoint else None
        exporter = OTLPSpanExporter(
            endpoint=plan.endpoint, headers=dict(plan.headers), session=session
        )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    set_tracer_provider(provider, metadata=dict(plan.attributes), allow_pii=plan.allow_content)
    logger.info("tracing on: exporting to %s", plan.endpoint)
    return JobTracing(provider)


def turn_attributes(plan_fields: tuple[str, ...], data: Mapping[str, Any]) -> dict[str, Any]:
    """Span attributes for the structured fields named in ``metadata_fields``."""
    attributes: dict[str, Any] = {}
    for name in plan_fields:
        value = data.get(name)
        if value is None:
            continue
        if isinstance(value, bool | int | float | str):
            attributes[f"turn.{name}"] = value
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            attributes[f"turn.{name}"] = list(value)
        else:
            attributes[f"turn.{name}"] = str(value)
    return attributes
