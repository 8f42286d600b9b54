"""Webhook deliveries run eagerly against a local receiver: events, signatures, retries,
timeouts, refusals, auto-disable and the report payload for the demo agent."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from agents_config.factories import make_agent
from agents_config.services import agent_publish, agent_rollback
from sessions_app import services as sessions
from sessions_app.factories import SessionFactory, TurnFactory
from sessions_app.reports import session_report_store
from sessions_app.webhooks import services as webhooks
from sessions_app.webhooks.tasks import deliver_webhook
from tenants.models import AuditEvent, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

ALL_EVENTS = [
    "session.started",
    "session.ended",
    "session.failed",
    "session.report_ready",
    "agent.published",
]


def emit(event="session.ended", tenant=None, agent_id="demo", **data):
    return webhooks.webhook_event_emit(
        tenant_id=tenant.pk, event=event, agent_id=agent_id, data=data or {"x": 1}
    )


# --- Endpoints ---


def test_the_secret_is_returned_once_and_stored_encrypted(tenant, webhook_settings, receiver):
    created = webhooks.webhook_endpoint_create(
        tenant=tenant, url=receiver.url, events=["session.ended"]
    )
    assert created.secret.startswith("whsec_") and len(created.secret) > 40
    stored = WebhookEndpoint.objects.get(pk=created.endpoint.pk)
    assert created.secret not in stored.encrypted_secret
    assert stored.get_secret() == created.secret
    assert not WebhookEndpoint.objects.filter(encrypted_secret__contains=created.secret).exists()
    assert AuditEvent.objects.filter(tenant=tenant, action="webhook.created").exists()


@pytest.mark.parametrize(
    "events",
    [[], ["session.ended", "nope"], ["session.ended", "session.ended"], "session.ended"],
)
def test_events_are_validated(tenant, webhook_settings, receiver, events):
    with pytest.raises(ValidationError) as info:
        webhooks.webhook_endpoint_create(tenant=tenant, url=receiver.url, events=events)
    assert "events" in info.value.message_dict


def test_the_agent_must_belong_to_the_tenant(tenant, other_tenant, webhook_settings, receiver):
    foreign = make_agent(tenant=other_tenant)
    with pytest.raises(ValidationError) as info:
        webhooks.webhook_endpoint_create(
            tenant=tenant, url=receiver.url, events=["session.ended"], agent=foreign
        )
    assert "agent" in info.value.message_dict


def test_a_private_url_is_refused_when_saving(tenant, settings, receiver):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    with pytest.raises(ValidationError) as info:
        webhooks.webhook_endpoint_create(tenant=tenant, url=receiver.url, events=["session.ended"])
    assert "private" in info.value.message_dict["url"][0]
    assert not WebhookEndpoint.objects.exists()


# --- Events become signed deliveries ---


def test_session_lifecycle_events_are_delivered_signed(
    published_agent, make_endpoint, receiver, django_capture_on_commit_callbacks
):
    tenant = published_agent.tenant
    make_endpoint(tenant, ["session.started", "session.ended"])
    with django_capture_on_commit_callbacks(execute=True):
        session = SessionFactory(agent=published_agent)
        sessions.session_activate(session=session)
        sessions.session_end(session=session, reason="user left")

    requests = receiver.wait_for(2)
    assert [r.json()["event"] for r in requests] == ["session.started", "session.ended"]
    assert all(r.signature_valid for r in requests)
    started, ended = (r.json() for r in requests)
    assert started["tenant"] == tenant.slug
    assert started["data"] == {
        "session_id": str(session.pk),
        "agent_id": published_agent.agent_id,
        "version": "1.0.0",
        "status": "active",
        "previous_status": "pending",
        "reason": "",
    }
    assert ended["data"]["status"] == "ended" and ended["data"]["reason"] == "user left"
    delivery = WebhookDelivery.objects.get(event="session.ended")
    assert ended["id"] == str(delivery.pk) == requests[1].headers["X-Webhook-Id"]
    assert requests[1].headers["X-Webhook-Event"] == "session.ended"
    assert requests[1].headers["Content-Type"] == "application/json"
    assert delivery.status == "succeeded" and delivery.attempts == 1
    assert delivery.last_response_code == 200 and delivery.delivered_at is not None


def test_a_failed_session_sends_session_failed(
    published_agent, make_endpoint, receiver, django_capture_on_commit_callbacks
):
    make_endpoint(published_agent.tenant, ["session.failed"])
    with django_capture_on_commit_callbacks(execute=True):
        session = SessionFactory(agent=published_agent)
        sessions.session_fail(session=session, reason="no room")
    (request,) = receiver.wait_for(1)
    assert request.json()["event"] == "session.failed"
    assert request.json()["data"]["reason"] == "no room"


def test_publish_and_rollback_send_agent_published(
    agent, make_endpoint, receiver, django_capture_on_commit_callbacks
):
    make_endpoint(agent.tenant, ["agent.published"])
    with django_capture_on_commit_callbacks(execute=True):
        first = agent_publish(agent=agent, version="1.0.0")
        agent_publish(agent=agent, version="1.1.0", allow_unchanged=True)
        agent_rollback(agent=agent, to_version=first)
    bodies = [r.json() for r in receiver.wait_for(3)]
    assert [b["data"]["action"] for b in bodies] == ["published", "published", "rollback"]
    assert [b["data"]["version"] for b in bodies][:2] == ["1.0.0", "1.1.0"]
    assert bodies[2]["data"]["version"] not in ("1.0.0", "1.1.0")  # a new patch version
    assert all(b["data"]["agent_id"] == agent.agent_id for b in bodies)


def test_endpoints_get_only_their_events_agents_and_tenant(
    tenant, other_tenant, webhook_settings, receiver
):
    mine = make_agent(tenant=tenant)
    theirs = make_agent(tenant=tenant, agent_id="another-agent")
    everything = webhooks.webhook_endpoint_create(
        tenant=tenant, url=receiver.url, events=ALL_EVENTS
    )
    only_mine = webhooks.webhook_endpoint_create(
        tenant=tenant, url=receiver.url, events=["session.ended"], agent=mine
    )
    ended_only = webhooks.webhook_endpoint_create(
        tenant=tenant, url=receiver.url, events=["session.ended"]
    )
    inactive = webhooks.webhook_endpoint_create(
        tenant=tenant, url=receiver.url, events=ALL_EVENTS, is_active=False
    )
    elsewhere = webhooks.webhook_endpoint_create(
        tenant=other_tenant, url=receiver.url, events=ALL_EVENTS
    )

    def targets(deliveries):
        return {d.endpoint_id for d in deliveries}

    assert targets(emit(tenant=tenant, agent_id=mine.agent_id)) == {
        everything.endpoint.pk,
        only_mine.endpoint.pk,
        ended_only.endpoint.pk,
    }
    assert targets(emit(tenant=tenant, agent_id=theirs.agent_id)) == {
        everything.endpoint.pk,
        ended_only.endpoint.pk,
    }
    assert targets(emit("session.started", tenant=tenant, agent_id=mine.agent_id)) == {
        everything.endpoint.pk
    }
    assert inactive.endpoint.deliveries.count() == elsewhere.endpoint.deliveries.count() == 0


def test_pending_and_provisioned_transitions_send_nothing(
    published_agent, make_endpoint, receiver, django_capture_on_commit_callbacks
):
    make_endpoint(published_agent.tenant, ALL_EVENTS)
    with django_capture_on_commit_callbacks(execute=True):
        session = SessionFactory(agent=published_agent)
        sessions.session_transition(session=session, to_status="provisioned")
    assert not WebhookDelivery.objects.exists()


def test_report_ready_carries_the_report_for_the_demo_agent(
    published_agent, make_endpoint, receiver, django_capture_on_commit_callbacks
):
    make_endpoint(published_agent.tenant, ["session.report_ready"])
    session = SessionFactory(agent=published_agent)
    for index, stage in enumerate(["document_check", "financial_review", "final_decision"]):
        TurnFactory(
            session=session,
            index=index,
            user_text=f"answer {index}",
            spoken_text=f"Question {index}?",
            structured_output={
                "voice_instructions": "Formal.",
                "system_response": f"Question {index}?",
                "internal_assessment": f"note {index}",
                "interview_stage": stage,
                "credibility_score": 5 - index,
                "red_flags": ["insufficient funds"] if index else [],
            },
            first_spoken_ms=300.0 + index,
        )
    sessions.session_end(session=session, reason="user left")
    with django_capture_on_commit_callbacks(execute=True):
        session_report_store(session=session)

    (request,) = receiver.wait_for(1)
    assert request.signature_valid
    body = request.json()
    assert body["event"] == "session.report_ready"
    assert body["data"]["session_id"] == str(session.pk)
    report = body["data"]["report"]
    assert report["agent"] == {"agent_id": published_agent.agent_id, "version": "1.0.0"}
    assert report["session"]["status"] == "ended"
    assert report["transcript"][1] == {"index": 1, "user": "answer 1", "agent": "Question 1?"}
    assert report["final_values"]["interview_stage"] == "final_decision"
    assert report["final_values"]["credibility_score"] == 3
    assert report["final_values"]["red_flags"] == ["insufficient funds"]
    assert report["hidden_fields"] == ["internal_assessment"]
    assert report["usage"]["turns"] == 3
    assert report["latency_summary_ms"]["first_spoken_text"]["p50"] == 301.0


# --- Retries, timeouts and failures ---


def test_500s_and_a_timeout_are_retried_until_success(
    tenant, make_endpoint, receiver, webhook_settings, eager_retries
):
    webhook_settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.state.sleep_seconds = 1.0
    make_endpoint(tenant, ["session.ended"])
    receiver.state.responses = [500, 503, "timeout"]
    (delivery,) = emit(tenant=tenant)
    deliver_webhook.apply(args=[str(delivery.pk)])

    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert delivery.attempts == 4
    assert delivery.last_response_code == 200 and delivery.last_error == ""
    requests = receiver.wait_for(4)
    assert len({r.body for r in requests}) == 1  # the same body each time
    assert all(r.signature_valid for r in requests)


def test_retry_state_is_logged_between_attempts(tenant, make_endpoint, receiver, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10.0
    make_endpoint(tenant, ["session.ended"])
    receiver.state.responses = [500]
    (delivery,) = emit(tenant=tenant)
    outcome = webhooks.webhook_delivery_attempt(delivery_id=str(delivery.pk))
    assert outcome.status == "retrying" and outcome.retry_in == 10.0
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_response_code) == (
        "retrying",
        1,
        500,
    )
    assert "HTTP 500" in delivery.last_error and delivery.next_attempt_at is not None
    # Exponential backoff for the later attempts.
    assert [webhooks.retry_delay(n) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 80, 160]


def test_a_redirect_is_a_failure_and_is_not_followed(tenant, make_endpoint, receiver):
    make_endpoint(tenant, ["session.ended"])
    receiver.state.responses = [302]
    (delivery,) = emit(tenant=tenant)
    webhooks.webhook_delivery_attempt(delivery_id=str(delivery.pk))
    delivery.refresh_from_db()
    assert delivery.status == "retrying" and delivery.last_response_code == 302
    assert "not followed" in delivery.last_error
    assert len(receiver.requests) == 1


def test_after_the_last_attempt_the_delivery_fails_and_counts_against_the_endpoint(
    tenant, make_endpoint, receiver, webhook_settings, eager_retries
):
    webhook_settings.WEBHOOK_MAX_ATTEMPTS = 5
    endpoint = make_endpoint(tenant, ["session.ended"])
    receiver.state.default_status = 500
    (delivery,) = emit(tenant=tenant)
    deliver_webhook.apply(args=[str(delivery.pk)])
    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 5)
    assert len(receiver.requests) == 5
    assert endpoint.failure_streak == 1 and endpoint.is_active

    receiver.state.default_status = 200  # a success resets the streak
    (second,) = emit(tenant=tenant)
    deliver_webhook.apply(args=[str(second.pk)])
    endpoint.refresh_from_db()
    assert endpoint.failure_streak == 0


def test_a_long_failure_streak_disables_the_endpoint(
    tenant, make_endpoint, receiver, webhook_settings
):
    webhook_settings.WEBHOOK_MAX_ATTEMPTS = 1
    webhook_settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    endpoint = make_endpoint(tenant, ["session.ended"])
    receiver.state.default_status = 500
    for _ in range(3):
        (delivery,) = emit(tenant=tenant)
        deliver_webhook.apply(args=[str(delivery.pk)])
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_at is not None
    assert endpoint.failure_streak == 3
    assert "after 3 failed deliveries" in endpoint.disabled_reason
    assert "HTTP 500" in endpoint.disabled_reason
    audit = AuditEvent.objects.get(tenant=tenant, action="webhook.auto_disabled")
    assert audit.target == endpoint.url and audit.details["failure_streak"] == 3
    assert emit(tenant=tenant) == []  # disabled endpoints get no new deliveries

    webhooks.webhook_endpoint_enable(endpoint=endpoint)
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.failure_streak == 0
    assert endpoint.disabled_at is None and endpoint.disabled_reason == ""


def test_a_delivery_to_a_disabled_endpoint_is_dropped(tenant, make_endpoint, receiver):
    endpoint = make_endpoint(tenant, ["session.ended"])
    (delivery,) = emit(tenant=tenant)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)
    assert webhooks.webhook_delivery_attempt(delivery_id=str(delivery.pk)).status == "skipped"
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.last_error == "endpoint disabled"
    assert receiver.requests == []


def test_a_finished_delivery_is_not_sent_again(tenant, make_endpoint, receiver):
    make_endpoint(tenant, ["session.ended"])
    (delivery,) = emit(tenant=tenant)
    assert deliver_webhook.apply(args=[str(delivery.pk)]).get() == "succeeded"
    assert deliver_webhook.apply(args=[str(delivery.pk)]).get() == "skipped"  # redelivered msg
    assert len(receiver.requests) == 1


def test_a_private_address_is_refused_at_delivery_time(
    tenant, make_endpoint, receiver, webhook_settings
):
    """The DNS answer (or the setting) may change after the endpoint was saved."""
    endpoint = make_endpoint(tenant, ["session.ended"])
    webhook_settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    (delivery,) = emit(tenant=tenant)
    assert deliver_webhook.apply(args=[str(delivery.pk)]).get() == "failed"
    delivery.refresh_from_db()
    assert delivery.attempts == 1  # refused for good: no retries
    assert "private, loopback or reserved" in delivery.last_error
    assert receiver.requests == []
    endpoint.refresh_from_db()
    assert endpoint.failure_streak == 1


def test_an_unreachable_receiver_is_retried(tenant, webhook_settings, receiver):
    created = webhooks.webhook_endpoint_create(
        tenant=tenant, url="http://127.0.0.1:9/closed", events=["session.ended"]
    )
    (delivery,) = emit(tenant=tenant)
    outcome = webhooks.webhook_delivery_attempt(delivery_id=str(delivery.pk))
    assert outcome.status == "retrying"
    delivery.refresh_from_db()
    assert delivery.last_response_code is None and "Connection" in delivery.last_error
    assert created.endpoint.pk == delivery.endpoint_id


def test_resend_creates_a_new_delivery_with_the_same_body(tenant, make_endpoint, receiver):
    endpoint = make_endpoint(tenant, ["session.ended"])
    (delivery,) = emit(tenant=tenant)
    deliver_webhook.apply(args=[str(delivery.pk)])
    resend = webhooks.webhook_delivery_resend(delivery=delivery)
    assert resend is not None and resend.pk != delivery.pk and resend.resent_from == delivery
    deliver_webhook.apply(args=[str(resend.pk)])
    first, second = receiver.wait_for(2)
    assert first.body == second.body and second.signature_valid
    assert second.headers["X-Webhook-Id"] == str(resend.pk)
    assert AuditEvent.objects.filter(action="webhook.resent").exists()

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)
    assert webhooks.webhook_delivery_resend(delivery=delivery) is None


def test_a_broken_receiver_setup_never_breaks_the_triggering_write(
    published_agent, make_endpoint, receiver, django_capture_on_commit_callbacks, monkeypatch
):
    make_endpoint(published_agent.tenant, ["session.ended"])

    def boom(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(webhooks, "webhook_event_emit", boom)
    with django_capture_on_commit_callbacks(execute=True):
        session = SessionFactory(agent=published_agent)
        assert sessions.session_end(session=session)
    session.refresh_from_db()
    assert session.status == "ended"


def test_without_a_broker_a_failed_delivery_is_not_retried_inline(
    tenant, make_endpoint, receiver, webhook_settings, eager_retries
):
    """Quick start (no REDIS_URL): tasks run inside the request, so no back-to-back retries."""
    webhook_settings.REDIS_URL = ""
    make_endpoint(tenant, ["session.ended"])
    receiver.state.responses = [500, 500, 500]
    (delivery,) = emit(tenant=tenant)
    deliver_webhook.apply(args=[str(delivery.pk)])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("retrying", 1)
    assert len(receiver.wait_for(1)) == 1
