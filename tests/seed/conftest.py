"""Seed-compatibility tests reuse the API tests' clients (API keys per role, clean cache) and
the worker tests' fake OpenAI server."""

from tests.api.conftest import _clean_cache, key_client  # noqa: F401
from tests.worker.conftest import fake_openai  # noqa: F401
