"""Fixtures for the REST API tests: API-key clients per role and a clean rate-limit cache."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tenants.services import api_key_create


@pytest.fixture(autouse=True)
def _clean_cache():
    """Rate-limit counters live in Redis; start every test from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def key_client(db):
    """``key_client(tenant, "developer")``: a client sending a new key of that role."""

    def build(tenant, role: str) -> APIClient:
        issued = api_key_create(tenant=tenant, name=f"{role} key", role=role)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw_key}")
        return client

    return build
