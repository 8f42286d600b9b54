"""Post-session analysis: an LLM answers the agent's ``analysis_config`` over the transcript.

After the report is stored (``session.report_ready`` does not wait), a Celery task asks the
agent's OpenAI-compatible LLM for one JSON object with ``summary``, ``success`` and the outcome
fields, constrained by the compiled schema (``response_format`` json_schema, strict) and then
validated by the same schema engine as the turns. The result is stored on the report
(``SessionReport.analysis`` and ``document["analysis"]``) and announced with
``session.analysis_ready``. The LLM is called exactly like the test suites' judge
(``agents_config.test_suites.runner.Judge``): a custom ``base_url`` goes through the outbound-URL
policy and gets the platform's key only where ``platform_key_refusal`` allows.

Statuses: ``done`` (valid), ``invalid`` (answered, but not per the schema: what validated is
kept, with the errors), ``failed`` (no answer after the retries), ``skipped`` (disabled or
not sampled).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from django.db import transaction

from agents_config.contracts import AgentDocument, AnalysisConfig, parse_document
from sessions_app.models import Session, SessionReport

logger = logging.getLogger(__name__)

ANALYSIS_SYSTEM_PROMPT = (
    "You analyse a finished conversation between a voice agent and a user. Answer with one "
    "JSON object matching the given schema, based only on the transcript and the final "
    "structured state."
)
TRANSCRIPT_MAX_CHARS = 60_000


class AnalysisFailed(Exception):
    """The LLM could not be asked or did not answer (retried by the task)."""


def analysis_sampled(session_id: str, sample_rate: float) -> bool:
    """Whether this session is in the sample: a stable hash of its id, so retries agree."""
    if sample_rate >= 1:
        return True
    bucket = int(hashlib.sha256(session_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return bucket < sample_rate


def _document(session: Session) -> AgentDocument | None:
    raw = session.agent_version.document if session.agent_version else None
    return parse_document(raw) if raw else None


def _prompt(report: SessionReport) -> str:
    document = report.document
    transcript = "\n".join(
        f"User: {t['user']}\nAgent: {t['agent']}" for t in document.get("transcript", [])
    )[-TRANSCRIPT_MAX_CHARS:]
    final_state = json.dumps(document.get("final_values", {}), ensure_ascii=False)
    return f"Transcript:\n{transcript}\n\nFinal structured state: {final_state}"


def _ask(document: AgentDocument, config: AnalysisConfig, keys: Any, prompt: str) -> str:
    from agents_config.providers import ProviderConfigError
    from agents_config.test_suites.runner import Judge

    try:
        judge = Judge(document=document, keys=keys)
    except ProviderConfigError as exc:
        raise AnalysisFailed(str(exc)) from exc
    if not judge.api_key:
        raise AnalysisFailed("no OpenAI API key")
    schema = config.compile()

    async def call() -> str:
        return await judge.complete_json(
            model=config.model or judge.default_model,
            system=ANALYSIS_SYSTEM_PROMPT,
            prompt=prompt,
            response_format=schema.response_format,
        )

    try:
        return async_to_sync(call)()
    except Exception as exc:  # the provider's errors: retried by the task
        raise AnalysisFailed(f"{type(exc).__name__}: {exc}") from exc


def _store(report: SessionReport, *, status: str, data: Any, errors: list[str]) -> SessionReport:
    with transaction.atomic():
        locked = SessionReport.objects.select_for_update().get(pk=report.pk)
        locked.analysis_status = status
        locked.analysis = data
        locked.analysis_errors = errors
        locked.document = {
            **locked.document,
            "analysis": {"status": status, "result": data, "errors": errors},
        }
        locked.save(
            update_fields=[
                "analysis_status",
                "analysis",
                "analysis_errors",
                "document",
                "updated_at",
            ]
        )
        if status != "skipped":
            _announce(locked)
    return locked


def _announce(report: SessionReport) -> None:
    from sessions_app.webhooks.services import webhook_event_emit
    from tenants.models import WebhookEvent

    session = report.session
    data = {
        "session_id": str(session.pk),
        "agent_id": session.agent_slug,
        "version": session.version_label,
        "status": report.analysis_status,
        "analysis": report.analysis,
        "errors": report.analysis_errors,
    }

    def emit() -> None:
        try:
            webhook_event_emit(
                tenant_id=session.tenant_id,
                event=WebhookEvent.SESSION_ANALYSIS_READY,
                data=data,
                agent_id=session.agent_slug,
            )
        except Exception:  # a webhook problem never loses the stored analysis
            logger.exception("could not announce the analysis of %s", session.pk)

    transaction.on_commit(emit)


def session_analysis_run(*, report: SessionReport, final_attempt: bool = True) -> SessionReport:
    """Analyse the report's session and store the outcome; raises ``AnalysisFailed`` when the
    LLM did not answer and this is not the final attempt (the task retries)."""
    session = report.session
    document = _document(session)
    config = document.analysis_config if document else None
    if config is None or not config.enabled:
        return _store(report, status="skipped", data=None, errors=[])
    if not analysis_sampled(str(session.pk), config.sample_rate):
        return _store(report, status="skipped", data=None, errors=["not sampled"])
    SessionReport.objects.filter(pk=report.pk).update(
        analysis_status="pending", analysis_attempts=report.analysis_attempts + 1
    )
    report.analysis_attempts += 1
    try:
        if session.agent is None:
            raise AnalysisFailed("the agent was deleted")
        from agents_config.test_suites.runner import provider_keys

        answer = _ask(document, config, provider_keys(session.agent), _prompt(report))
    except AnalysisFailed as exc:
        if not final_attempt:
            raise
        logger.warning("analysis of %s failed: %s", session.pk, exc)
        return _store(report, status="failed", data=None, errors=[str(exc)[:1000]])
    result = config.compile().validate_output(answer)
    status = "invalid" if result.errors else "done"
    return _store(report, status=status, data=result.data, errors=list(result.errors))
