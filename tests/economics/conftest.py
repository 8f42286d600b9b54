"""Fixtures for costs and budgets: known prices (tests never rely on the default table, which a
transactional test's flush removes)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sessions_app.models import Budget, ModelPrice

KNOWN_PRICES = {
    ("openai", "gpt-4o-mini", "prompt_tokens"): "1.00",
    ("openai", "gpt-4o-mini", "cached_tokens"): "0.50",
    ("openai", "gpt-4o-mini", "completion_tokens"): "4.00",
    ("openai", "*", "tts_characters"): "15.00",
    ("deepgram", "*", "stt_seconds"): "100.00",
    ("platform", "*", "session_minutes"): "0",
}


def set_known_prices() -> None:
    ModelPrice.objects.all().delete()
    for (provider, model, metric), price in KNOWN_PRICES.items():
        ModelPrice.objects.create(
            provider=provider,
            model=model,
            metric=metric,
            usd_per_million=Decimal(price),
            effective_from=dt.date(2020, 1, 1),
        )


@pytest.fixture
def known_prices(db):
    set_known_prices()


def make_budget(tenant, limit: str, *, reserve: str = "0.05", **extra) -> Budget:
    return Budget.objects.create(
        tenant=tenant,
        monthly_limit_usd=Decimal(limit),
        session_reserve_usd=Decimal(reserve),
        **extra,
    )


@pytest.fixture
def fake_openai():
    from tests.fakes.openai_server import FakeOpenAI

    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def key_client(db):
    """``key_client(tenant, "admin")``: a client sending a new key of that role."""
    from rest_framework.test import APIClient

    from tenants.services import api_key_create

    def build(tenant, role: str) -> APIClient:
        issued = api_key_create(tenant=tenant, name=f"{role} key", role=role)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw_key}")
        return client

    return build
