"""Settings for the test suite: real PostgreSQL and Redis (the CI script starts them)."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/voiceagents")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SECRETS_ENCRYPTION_KEY", "dGVzdC1vbmx5LWVuY3J5cHRpb24ta2V5LTMyYnl0ZXM=")
# The tests' fake providers listen on loopback with random ports: let the outbound policy
# reach loopback and the platform's (test) keys go there. Tests that prove refusals override.
# Set in the environment so the processes tests start (Celery workers, job processes) agree.
os.environ.setdefault("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
os.environ.setdefault("PLATFORM_KEY_ALLOWED_BASE_URLS", "http://127.0.0.1,http://localhost")

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests call tasks synchronously unless a test starts a real worker on the Redis broker.
CELERY_TASK_ALWAYS_EAGER = True
SESSION_PROVISION_RETRY_BASE_SECONDS = 0.0
CELERY_TASK_EAGER_PROPAGATES = True
# Templates link unhashed static names without a collectstatic run (the web process entry and
# tests/test_processes.py exercise the hashed, compressed manifest storage).
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = True  # served from the apps, no STATIC_ROOT

# The cache (rate-limit counters; tests clear it) must not share a Redis database with the
# Celery broker, or clearing it would drop queued tasks of a concurrent run.
# TEST_CACHE_REDIS_DB lets parallel runs on one Redis keep their caches apart.
CACHES["default"]["LOCATION"] = (  # noqa: F405
    REDIS_URL.rsplit("/", 1)[0] + "/" + os.environ.get("TEST_CACHE_REDIS_DB", "13")  # noqa: F405
)
