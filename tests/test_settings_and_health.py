"""Settings from the environment, the deploy checklist, health probes and the SQLite quick start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    # Drop what the test settings put into this process's environment.
    inherited = {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG",
                 "SECURE_SSL_REDIRECT", "SECRETS_ENCRYPTION_KEY"}  # fmt: skip
    clean = {k: v for k, v in os.environ.items() if k not in inherited}
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )


PRODUCTION_ENV = {
    "SECRET_KEY": "x" * 20 + "production-like-secret-key-with-enough-entropy-0123456789",
    "ALLOWED_HOSTS": "agents.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "DEBUG": "0",
}


def test_check_deploy_is_clean_with_production_env():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr + result.stdout


def test_missing_secret_key_is_a_clear_error():
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.sqlite
def test_quick_start_path_on_sqlite(tmp_path):
    env = {"DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'quick.sqlite3'}"}
    assert manage("migrate", "--noinput", env=env).returncode == 0
    first = manage("load_demo_agent", "--admin", env=env)
    assert first.returncode == 0, first.stderr
    assert "Published visa-interview-officer 1.0.0" in first.stdout
    assert "Admin login" in first.stdout
    second = manage("load_demo_agent", env=env)
    assert "nothing to do" in second.stdout


@pytest.mark.django_db
def test_health_probes(client, settings):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok", "broker": "ok"}
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    broken = client.get("/readyz")
    assert broken.status_code == 503 and broken.json()["checks"]["redis"].startswith("error")


@pytest.mark.django_db
def test_readyz_names_an_unreachable_broker(client):
    from config.celery import app

    old_url = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/readyz")
    finally:
        app.conf.broker_url = old_url
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("error")
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_probes_answer_plain_http_on_any_host_while_the_rest_redirects(client, settings):
    """Cluster probes reach the pod by IP over HTTP: no SSL redirect, no host check for them."""
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["agents.example.com"]
    for path in ("/healthz", "/readyz"):
        response = client.get(path, HTTP_HOST="10.1.2.3:8000")
        assert response.status_code == 200, (path, response.content)
    assert client.head("/healthz", HTTP_HOST="10.1.2.3").status_code == 200
    # Everything else keeps the redirect and the host check.
    redirected = client.get("/api/v1/me", HTTP_HOST="agents.example.com")
    assert redirected.status_code == 301
    assert redirected["Location"].startswith("https://agents.example.com/")
    assert client.get("/admin/", HTTP_HOST="10.1.2.3", secure=True).status_code == 400
    # A look-alike path is not a probe.
    assert client.get("/healthz/x", HTTP_HOST="10.1.2.3").status_code == 400


@pytest.mark.django_db
def test_openapi_schema_builds(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200


def test_visibility_timeout_shorter_than_a_retry_countdown_is_refused():
    env = {**PRODUCTION_ENV, "CELERY_VISIBILITY_TIMEOUT": "100"}  # webhook backoff reaches 160 s
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "CELERY_VISIBILITY_TIMEOUT (100s) must be longer" in result.stderr


def test_production_settings_bound_connections_and_queue_work():
    env = {**PRODUCTION_ENV, "CELERY_BROKER_URL": "redis://broker:6379/1",
           "DISABLE_SERVER_SIDE_CURSORS": "1", "DATABASE_POOL_MAX_SIZE": "5"}  # fmt: skip
    code = (
        "from django.conf import settings as s; d = s.DATABASES['default']; "
        "print(d['OPTIONS']['pool']['max_size'], d['CONN_MAX_AGE'], "
        "d['DISABLE_SERVER_SIDE_CURSORS'], s.CELERY_BROKER_URL, s.CELERY_TASK_ALWAYS_EAGER, "
        "s.STORAGES['staticfiles']['BACKEND'])"
    )
    result = manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == [
        "5", "0", "True", "redis://broker:6379/1", "False", "config.storage.StaticFilesStorage",
    ]  # fmt: skip
    without_pool = code.replace("d['OPTIONS']['pool']['max_size']", "d.get('OPTIONS')")
    no_pool = manage("shell", "-c", without_pool, env={**env, "DATABASE_POOL": "0"})
    assert no_pool.stdout.splitlines()[-1].split()[:2] == ["{}", "60"], no_pool.stderr
