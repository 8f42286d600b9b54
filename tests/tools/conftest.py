"""Fixtures for the tools tests (API-key clients as in the API tests)."""

from tests.api.conftest import key_client  # noqa: F401
