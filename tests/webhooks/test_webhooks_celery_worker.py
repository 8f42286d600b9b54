"""A real Celery worker on Redis delivers webhooks to a local receiver: retries after 500s
and a timeout, the report of a demo-agent session, auto-disable, and the replay window."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import pytest

from config.celery import app
from sessions_app import services as sessions
from sessions_app.factories import SessionFactory, TurnFactory
from sessions_app.webhooks import services as webhooks
from tenants.models import AuditEvent, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def celery_worker_env():
    return {
        "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": "1",
        "WEBHOOK_TIMEOUT_SECONDS": "0.5",
        "WEBHOOK_RETRY_BASE_SECONDS": "0.1",
        "WEBHOOK_MAX_ATTEMPTS": "6",
        "WEBHOOK_DISABLE_AFTER_FAILURES": "2",
    }


@pytest.fixture
def worker(celery_worker_process, webhook_settings):
    app.connection_for_write().ensure_connection(max_retries=3)
    return celery_worker_process


def wait_until(condition: Callable[[], bool], worker, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if worker.poll() is not None:
            pytest.fail(f"worker exited while waiting for {what}:\n{worker.output()}")
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}; worker output:\n{worker.output()}")


def test_500s_and_a_timeout_are_retried_until_delivered(
    published_agent, make_endpoint, receiver, worker
):
    make_endpoint(published_agent.tenant, ["session.ended"])
    receiver.state.responses = [500, 500, "timeout"]
    receiver.state.sleep_seconds = 1.5  # the worker gives up after 0.5 s
    session = SessionFactory(agent=published_agent)
    sessions.session_end(session=session, reason="user left")

    def delivered() -> bool:
        return WebhookDelivery.objects.filter(status="succeeded").exists()

    wait_until(delivered, worker, "the delivery to succeed")
    delivery = WebhookDelivery.objects.get()
    assert delivery.event == "session.ended"
    assert delivery.attempts == 4  # 500, 500, timeout, 200: the log counts every attempt
    assert delivery.last_response_code == 200 and delivery.last_error == ""
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None

    requests = receiver.wait_for(4)
    assert len(requests) == 4
    assert all(r.signature_valid for r in requests), "every attempt is signed"
    assert len({r.body for r in requests}) == 1
    body = requests[-1].json()
    assert body["id"] == str(delivery.pk) and body["data"]["session_id"] == str(session.pk)
    # Retries waited with a growing backoff (0.1 s, 0.2 s, then the 0.5 s timeout + 0.4 s).
    gaps = [b.received_at - a.received_at for a, b in itertools.pairwise(requests)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2 and gaps[2] >= 0.5 + 0.4

    # Replay protection: the same signed request presented later than the window is refused.
    last = requests[-1]
    timestamp = last.headers[webhooks.TIMESTAMP_HEADER]
    signature = last.headers[webhooks.SIGNATURE_HEADER]
    secret = receiver.state.secret
    assert webhooks.verify_signature(secret, timestamp, last.body, signature)
    replayed_at = int(timestamp) + webhooks.DEFAULT_TOLERANCE_SECONDS + 1
    assert not webhooks.verify_signature(secret, timestamp, last.body, signature, now=replayed_at)


def test_the_worker_builds_the_report_and_delivers_it(
    published_agent, make_endpoint, receiver, worker
):
    """The demo agent's session ends; the worker builds its report (a task) and then sends
    ``session.report_ready`` (another task) carrying the report."""
    make_endpoint(published_agent.tenant, ["session.report_ready"])
    session = SessionFactory(agent=published_agent)
    outputs = [
        {"interview_stage": "document_check", "credibility_score": 5, "red_flags": []},
        {"interview_stage": "final_decision", "credibility_score": 3, "red_flags": ["funds"]},
    ]
    for index, output in enumerate(outputs):
        TurnFactory(
            session=session,
            index=index,
            user_text=f"answer {index}",
            spoken_text=f"Question {index}?",
            structured_output={
                "system_response": f"Question {index}?",
                "internal_assessment": f"note {index}",
                **output,
            },
        )
    sessions.session_end(session=session, reason="done")

    (request,) = receiver.wait_for(1, timeout=60)
    assert request.signature_valid
    body = request.json()
    assert body["event"] == "session.report_ready"
    assert body["tenant"] == published_agent.tenant.slug
    report = body["data"]["report"]
    assert report["session"]["session_id"] == str(session.pk)
    assert report["agent"] == {"agent_id": published_agent.agent_id, "version": "1.0.0"}
    assert [t["user"] for t in report["transcript"]] == ["answer 0", "answer 1"]
    assert report["final_values"]["interview_stage"] == "final_decision"
    assert report["final_values"]["red_flags"] == ["funds"]
    assert report["hidden_fields"] == ["internal_assessment"]
    wait_until(
        lambda: WebhookDelivery.objects.filter(status="succeeded").exists(),
        worker,
        "the delivery log to say succeeded",
    )


@pytest.mark.parametrize("celery_worker_process", [{"WEBHOOK_MAX_ATTEMPTS": "2"}], indirect=True)
def test_a_failure_streak_disables_the_endpoint(tenant, make_endpoint, receiver, worker):
    endpoint = make_endpoint(tenant, ["session.ended"])
    receiver.state.default_status = 500
    for _ in range(2):  # WEBHOOK_DISABLE_AFTER_FAILURES=2 in the worker
        webhooks.webhook_event_emit(
            tenant_id=tenant.pk, event="session.ended", agent_id="demo", data={"n": 1}
        )

    def disabled() -> bool:
        return not WebhookEndpoint.objects.get(pk=endpoint.pk).is_active

    wait_until(disabled, worker, "the endpoint to be disabled")
    endpoint.refresh_from_db()
    assert endpoint.failure_streak == 2 and endpoint.disabled_at is not None
    assert "HTTP 500" in endpoint.disabled_reason
    assert AuditEvent.objects.filter(tenant=tenant, action="webhook.auto_disabled").count() == 1
    assert sorted(WebhookDelivery.objects.values_list("status", "attempts")) == [
        ("failed", 2),
        ("failed", 2),
    ]
    assert len(receiver.requests) == 4
