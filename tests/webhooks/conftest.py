"""Webhook fixtures: a local receiver on 127.0.0.1 and endpoints pointing at it."""

from __future__ import annotations

import pytest

from sessions_app.webhooks import services as webhooks
from tests.fakes.webhook_receiver import WebhookReceiver


@pytest.fixture(autouse=True)
def outbound_defaults(settings):
    """Webhook tests toggle the policy with WEBHOOKS_ALLOW_PRIVATE_ADDRESSES alone, not the
    loopback range the test settings allow for the fake providers."""
    settings.OUTBOUND_ALLOWED_NETWORKS = []


@pytest.fixture
def webhook_settings(settings):
    """Allow the loopback receiver; retry at once; keep timeouts short."""
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0.0
    settings.WEBHOOK_TIMEOUT_SECONDS = 2.0
    settings.WEBHOOK_MAX_ATTEMPTS = 6
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 20
    return settings


@pytest.fixture
def receiver():
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def make_endpoint(webhook_settings, receiver):
    """``make_endpoint(tenant, events, agent=None)``: an endpoint at the receiver, whose
    secret the receiver then uses to verify every request."""

    def build(tenant, events, *, agent=None, url=None):
        created = webhooks.webhook_endpoint_create(
            tenant=tenant, url=url or receiver.url, events=events, agent=agent
        )
        receiver.state.secret = created.secret
        return created.endpoint

    return build


@pytest.fixture
def eager_retries():
    """Let eager retries run inline instead of propagating the Retry signal."""
    from config.celery import app

    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = True
