"""Security tests share the API's key clients and clean rate-limit cache."""

from tests.api.conftest import _clean_cache, key_client  # noqa: F401 - shared fixtures
