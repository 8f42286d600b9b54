"""Django settings, read from the environment (django-environ).

Everything deploy-specific comes from environment variables. A required variable that is missing
raises ImproperlyConfigured naming it. Without DATABASE_URL the quick start uses a SQLite file;
without REDIS_URL Celery runs tasks eagerly and the cache is in-process.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from tenants.platform.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG: bool = env.bool("DEBUG", default=False)

SECRET_KEY: str = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable or put it in .env "
            "(bash .ci/quickstart writes one), or DEBUG=1 for local development, which uses an "
            "insecure development key."
        )
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS: list[str] = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django_prometheus",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_celery_beat",
    "tenants",
    "agents_config",
    "sessions_app",
    "worker",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "config.middleware.RequestContextMiddleware",
    # Probes answer before the SSL redirect and the host check (plain HTTP, any Host).
    "config.middleware.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (admin CSS, the playground's JavaScript, Swagger UI) from the web process.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# django-prometheus's PostgreSQL backend (queries, errors and connections per database), with a
# pool health check that costs no round trip per request and pool errors that name their
# cause (config/postgres/base.py).
ON_POSTGRESQL: bool = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if ON_POSTGRESQL:
    DATABASES["default"]["ENGINE"] = "config.postgres"
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Behind pgbouncer in transaction mode, server-side cursors (``.iterator()``, the admin's
# paginator) fail with InvalidCursorName: each statement may land on another server connection.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
    "DISABLE_SERVER_SIDE_CURSORS", default=False
)
# Connections are bounded per process: on PostgreSQL a psycopg pool (each web worker process
# holds at most DATABASE_POOL_MAX_SIZE connections), else one persistent connection per thread.
# The process entry (config/processes.py) turns the pool off for Celery and the agent worker,
# whose processes run one task at a time.
DATABASE_POOL: bool = env.bool("DATABASE_POOL", default=True) and ON_POSTGRESQL
if DATABASE_POOL:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections, not Django
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=8),
        # A request waits this long for a free connection, then fails (PoolTimeout) instead of
        # opening one more: PostgreSQL's max_connections is never exceeded.
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
        "max_idle": env.float("DATABASE_POOL_MAX_IDLE", default=300.0),
    }
else:
    # runserver opens a thread (and a connection) per request: persistent ones pile up there.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0 if DEBUG else 60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL: str = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# guardian: no anonymous user row; our API never grants anything to anonymous users.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
# collectstatic (run by the web process entry) writes hashed, gzip/brotli-compressed copies that
# WhiteNoise serves with far-future cache headers. With DEBUG, names stay unhashed and WhiteNoise
# serves straight from the apps' static folders (WHITENOISE_USE_FINDERS defaults to DEBUG).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "config.storage.StaticFilesStorage"},
}
# A file missing from the manifest (the playground's npm bundle when npm was unavailable) is
# linked unhashed instead of failing the whole page.
WHITENOISE_MANIFEST_STRICT = False

# Request bodies: the API limits JSON documents to this size (bytes).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1_048_576)

# --- Security (production defaults; DEBUG relaxes the transport ones) ---
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Celery ---
CELERY_BROKER_URL: str = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
# No broker at all (the quick start): tasks run in-process.
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL == "memory://"
# Eager mode (quick start): a failing task is logged, never turned into a failed request.
CELERY_TASK_EAGER_PROPAGATES = False
# A message is acknowledged after its task finished, and a task whose process died (kill -9,
# OOM) goes back to the queue instead of being acknowledged: nothing is lost with a worker.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# On Redis, a message taken by a worker that vanished (its main process killed) is handed to
# another worker after this many seconds. It must exceed the longest task run and the longest
# retry countdown (tasks waiting for their countdown are held unacknowledged by a worker).
CELERY_VISIBILITY_TIMEOUT: int = env.int("CELERY_VISIBILITY_TIMEOUT", default=600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # Each worker looks for such messages every few seconds (kombu's default, 10 s × a
    # throttle of 10, would add up to 100 s to the visibility timeout).
    "unacked_restore_interval": max(1, min(10, CELERY_VISIBILITY_TIMEOUT // 3)),
    "unacked_restore_throttle": 1,
}
# Publishing a task gives up quickly when the broker is down (the API then answers 503).
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
# Every queue name gets this prefix (tests give each real worker queues of their own).
CELERY_QUEUE_PREFIX: str = env.str("CELERY_QUEUE_PREFIX", default="")
# Operations: GET /metrics (Prometheus). Restricted: the scraper sends
# "Authorization: Bearer <METRICS_TOKEN>"; without a token only loopback clients are answered.
METRICS_TOKEN: str = env.str("METRICS_TOKEN", default="")
# gunicorn runs several processes: prometheus-client's multiprocess mode aggregates them from
# files in this directory (config/processes.py creates it and clears it when the web starts).
PROMETHEUS_MULTIPROC_DIR: str = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
# Each Celery worker's own Prometheus endpoint (GET /metrics on this port; unset: off), for
# workers on hosts other than the web's. Give each worker on one host its own port. It listens
# on CELERY_METRICS_HOST: loopback by default; 0.0.0.0 in a container scraped by its pod IP.
CELERY_METRICS_PORT: int | None = env.int("CELERY_METRICS_PORT", default=None)
CELERY_METRICS_HOST: str = env.str("CELERY_METRICS_HOST", default="127.0.0.1")
# The agent worker's livekit-agents Prometheus endpoint (port; unset: off).
AGENT_WORKER_METRICS_PORT: int | None = env.int("AGENT_WORKER_METRICS_PORT", default=None)
# Names this deployment's Redis pub/sub channels (config changes), so deployments sharing a
# Redis never receive each other's events. Defaults to the queue prefix, else "voiceagents".
DEPLOYMENT_NAME: str = env.str(
    "DEPLOYMENT_NAME", default=CELERY_QUEUE_PREFIX.strip("-:_.") or "voiceagents"
)
# One queue per kind of work, so a slow webhook receiver never delays provisioning. Tasks not
# listed go to CELERY_TASK_DEFAULT_QUEUE. Routing: config.celery.route_task.
TASK_QUEUES: dict[str, str] = {
    "sessions_app.tasks.provision_session_room": "provisioning",
    "sessions_app.tasks.delete_session_room": "provisioning",
    "sessions_app.tasks.expire_sessions": "provisioning",
    "sessions_app.tasks.reconcile_sessions": "provisioning",
    "sessions_app.tasks.reset_monthly_quotas": "provisioning",
    "sessions_app.tasks.build_session_report": "reports",
    "tenants.tasks.deliver_webhook": "webhooks",
    "agents_config.tasks.run_agent_test_run": "test_runs",
}
# A test run past its soft limit ends `error` ("time limit"); the hard limit kills it outright.
TEST_RUN_SOFT_TIME_LIMIT: int = env.int("TEST_RUN_SOFT_TIME_LIMIT", default=1800)
TEST_RUN_TIME_LIMIT: int = env.int("TEST_RUN_TIME_LIMIT", default=TEST_RUN_SOFT_TIME_LIMIT + 60)
if TEST_RUN_TIME_LIMIT <= TEST_RUN_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured("TEST_RUN_TIME_LIMIT must be greater than TEST_RUN_SOFT_TIME_LIMIT.")
# (soft, hard) time limits in seconds per queue: the soft limit raises SoftTimeLimitExceeded in
# the task (it can fail the session cleanly), the hard one kills the pool process.
TASK_TIME_LIMITS: dict[str, tuple[int, int]] = {
    "provisioning": (
        env.int("PROVISIONING_SOFT_TIME_LIMIT", default=60),
        env.int("PROVISIONING_TIME_LIMIT", default=90),
    ),
    "reports": (
        env.int("REPORT_SOFT_TIME_LIMIT", default=120),
        env.int("REPORT_TIME_LIMIT", default=180),
    ),
    "webhooks": (
        env.int("WEBHOOK_SOFT_TIME_LIMIT", default=60),
        env.int("WEBHOOK_TIME_LIMIT", default=90),
    ),
    "test_runs": (TEST_RUN_SOFT_TIME_LIMIT, TEST_RUN_TIME_LIMIT),
}
CELERY_TASK_ROUTES = ("config.celery.route_task",)
CELERY_TASK_ANNOTATIONS = {
    task: {"soft_time_limit": TASK_TIME_LIMITS[queue][0], "time_limit": TASK_TIME_LIMITS[queue][1]}
    for task, queue in TASK_QUEUES.items()
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- External services (secrets only from the environment) ---
LIVEKIT_URL: str = env.str("LIVEKIT_URL", default="")
LIVEKIT_API_KEY: str = env.str("LIVEKIT_API_KEY", default="")
LIVEKIT_API_SECRET: str = env.str("LIVEKIT_API_SECRET", default="")
LIVEKIT_AGENT_NAME: str = env.str("LIVEKIT_AGENT_NAME", default="voice-agent")
LIVEKIT_TOKEN_TTL_SECONDS: int = env.int("LIVEKIT_TOKEN_TTL_SECONDS", default=3600)
OPENAI_API_KEY: str = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL: str = env.str("OPENAI_BASE_URL", default="")
DEEPGRAM_API_KEY: str = env.str("DEEPGRAM_API_KEY", default="")
ANTHROPIC_API_KEY: str = env.str("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL: str = env.str("ANTHROPIC_BASE_URL", default="")
CARTESIA_API_KEY: str = env.str("CARTESIA_API_KEY", default="")
CARTESIA_BASE_URL: str = env.str("CARTESIA_BASE_URL", default="")
TOGETHER_API_KEY: str = env.str("TOGETHER_API_KEY", default="")
GROQ_API_KEY: str = env.str("GROQ_API_KEY", default="")
OPENROUTER_API_KEY: str = env.str("OPENROUTER_API_KEY", default="")
# Extra folders of agent template JSON files (see README "Templates").
AGENT_TEMPLATE_DIRS: list[str] = env.list("AGENT_TEMPLATE_DIRS", default=[])
LANGFUSE_PUBLIC_KEY: str = env.str("LANGFUSE_PUBLIC_KEY", default="")
LANGFUSE_SECRET_KEY: str = env.str("LANGFUSE_SECRET_KEY", default="")
LANGFUSE_HOST: str = env.str("LANGFUSE_HOST", default="https://cloud.langfuse.com")
# Key that encrypts per-tenant provider secrets at rest (Fernet, urlsafe base64 of 32 bytes).
SECRETS_ENCRYPTION_KEY: str = env.str("SECRETS_ENCRYPTION_KEY", default="")

# --- REST API ---
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["tenants.platform.parsers.LimitedJSONParser"],
    # API keys first: their Bearer challenge makes unauthenticated requests a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["tenants.throttling.TenantRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "tenants.api_base.ApiPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "tenants.platform.exceptions.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Voice Agents Platform API",
    "DESCRIPTION": "Runtime-configurable voice AI agents: configuration, versions and sessions.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "CallStatusEnum": "sessions_app.telephony.models.CallStatus",
        "CampaignStatusEnum": "sessions_app.telephony.models.CampaignStatus",
        "RecipientStatusEnum": "sessions_app.telephony.models.RecipientStatus",
        "VoicemailActionEnum": "sessions_app.telephony.models.VoicemailAction",
        "SessionStatusEnum": ["pending", "provisioned", "active", "ended", "failed"],
    },
}

LOG_LEVEL: str = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT: str = env.str("LOG_FORMAT", default="plain")  # "plain" or "json"
LOGGING = logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT)

# --- Sessions ---
# The dashboard's live-sessions view flags a session still pending or provisioned (no agent
# joined) after this many seconds as stuck.
SESSION_STUCK_AFTER_SECONDS: int = env.int("SESSION_STUCK_AFTER_SECONDS", default=120)
SESSION_PROVISION_RETRY_BASE_SECONDS: float = env.float(
    "SESSION_PROVISION_RETRY_BASE_SECONDS", default=2.0
)
# The reconciler (beat, every minute) re-queues sessions still pending this long after their
# last change and fails sessions stuck pending/provisioned for SESSION_STUCK_FAIL_SECONDS.
SESSION_STUCK_REQUEUE_SECONDS: int = env.int("SESSION_STUCK_REQUEUE_SECONDS", default=120)
SESSION_STUCK_FAIL_SECONDS: int = env.int("SESSION_STUCK_FAIL_SECONDS", default=600)
# How long an outbound call rings before it counts as "no answer".
TELEPHONY_RINGING_TIMEOUT_SECONDS: int = env.int("TELEPHONY_RINGING_TIMEOUT_SECONDS", default=30)

LOGIN_URL = "/accounts/login/"

# --- Outbound URLs (tenants.outbound) and where platform keys may go (tenants.secrets) ---
# Tenant-supplied URLs may only reach public addresses, except these host names (exact, or
# "*.suffix") and address ranges (CIDR), e.g. an internal model server.
OUTBOUND_ALLOWED_HOSTS: list[str] = env.list("OUTBOUND_ALLOWED_HOSTS", default=[])
OUTBOUND_ALLOWED_NETWORKS: list[str] = env.list("OUTBOUND_ALLOWED_NETWORKS", default=[])
# Deprecated: allows every address for every outbound call (use the two settings above).
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES: bool = env.bool("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", default=False)
# Endpoints besides the provider's own (api.openai.com or OPENAI_BASE_URL, LANGFUSE_HOST)
# that may receive the platform's keys: URL prefixes; an entry without a port matches any port.
PLATFORM_KEY_ALLOWED_BASE_URLS: list[str] = env.list("PLATFORM_KEY_ALLOWED_BASE_URLS", default=[])

# --- Webhooks ---
WEBHOOK_TIMEOUT_SECONDS: float = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Tries per delivery (the first one included); retries wait base, 2×base, 4×base… seconds.
WEBHOOK_MAX_ATTEMPTS: int = env.int("WEBHOOK_MAX_ATTEMPTS", default=6)
WEBHOOK_RETRY_BASE_SECONDS: float = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=10.0)
# An endpoint is disabled after this many failed deliveries in a row (each after all retries).
WEBHOOK_DISABLE_AFTER_FAILURES: int = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=20)
# Tasks enqueued without a queue go here (tests give each real worker a queue of its own).
CELERY_TASK_DEFAULT_QUEUE: str = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
for _name in ("WEBHOOK_TIMEOUT_SECONDS", "WEBHOOK_MAX_ATTEMPTS", "WEBHOOK_DISABLE_AFTER_FAILURES"):
    if globals()[_name] <= 0:
        raise ImproperlyConfigured(f"{_name} must be greater than 0.")
if WEBHOOK_RETRY_BASE_SECONDS < 0:
    raise ImproperlyConfigured("WEBHOOK_RETRY_BASE_SECONDS must not be negative.")


def _check_outbound_settings() -> None:
    from urllib.parse import urlsplit

    from tenants.outbound import parse_networks

    try:
        parse_networks(OUTBOUND_ALLOWED_NETWORKS)
    except ValueError as exc:
        raise ImproperlyConfigured(f"OUTBOUND_ALLOWED_NETWORKS: {exc}") from exc
    for entry in PLATFORM_KEY_ALLOWED_BASE_URLS:
        parts = urlsplit(entry)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ImproperlyConfigured(
                f"PLATFORM_KEY_ALLOWED_BASE_URLS: {entry!r} is not an http(s) URL prefix."
            )


_check_outbound_settings()
# A task waiting for its retry countdown is held unacknowledged by a worker: a visibility timeout
# shorter than the longest countdown would hand the same message to a second worker meanwhile.
_longest_countdown = max(
    WEBHOOK_RETRY_BASE_SECONDS * 2 ** max(WEBHOOK_MAX_ATTEMPTS - 2, 0),
    SESSION_PROVISION_RETRY_BASE_SECONDS * 2**4,
)
if _longest_countdown >= CELERY_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured(
        f"CELERY_VISIBILITY_TIMEOUT ({CELERY_VISIBILITY_TIMEOUT}s) must be longer than the "
        f"longest retry countdown ({_longest_countdown:.0f}s, from WEBHOOK_RETRY_BASE_SECONDS "
        "and WEBHOOK_MAX_ATTEMPTS)."
    )
if SESSION_STUCK_FAIL_SECONDS <= SESSION_STUCK_REQUEUE_SECONDS:
    raise ImproperlyConfigured(
        "SESSION_STUCK_FAIL_SECONDS must be greater than SESSION_STUCK_REQUEUE_SECONDS."
    )
