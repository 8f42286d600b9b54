"""Security tests share the API's key clients and clean rate-limit cache."""

from tests.api.conftest import _clean_cache, key_client  # noqa: F401 - shared fixtures
from tests.worker.conftest import fake_openai, job_env  # noqa: F401 - job processes
