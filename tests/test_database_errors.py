"""The PostgreSQL backend (config.postgres): pool errors that name their cause, and a pool
health check that costs no round trip for a connection checked a moment ago."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from config.postgres import base as backend

ROOT = Path(__file__).resolve().parent.parent


def _migrate(database_url: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "DATABASE_POOL": "1",
        "DATABASE_POOL_TIMEOUT": "1",
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _error(done: subprocess.CompletedProcess) -> str:
    """The final error of a failed command (it may span lines)."""
    assert done.returncode != 0
    return done.stderr[done.stderr.rindex("django.db.utils.OperationalError") :]


def test_migrate_names_a_missing_database():
    db = connection.settings_dict
    done = _migrate(f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/no_such_database_va")
    error = _error(done)
    assert error.startswith("django.db.utils.OperationalError: Cannot connect to PostgreSQL")
    assert 'database "no_such_database_va" does not exist' in error


def test_migrate_names_an_unreachable_server():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    done = _migrate(f"postgres://postgres@127.0.0.1:{port}/voiceagents")
    error = _error(done)
    assert "Cannot connect to PostgreSQL" in error and "Connection refused" in error


@pytest.mark.django_db
def test_pool_check_skips_a_connection_checked_a_moment_ago(monkeypatch):
    db = connection.settings_dict
    conn = psycopg.connect(
        f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}", autocommit=True
    )
    backend.check_connection_now_and_then(conn)  # checked: it works
    conn.close()  # broken now, as after a PostgreSQL restart
    backend.check_connection_now_and_then(conn)  # checked a moment ago: no round trip
    monkeypatch.setattr(backend, "POOL_CHECK_INTERVAL_SECONDS", 0.0)
    with pytest.raises(psycopg.OperationalError):
        backend.check_connection_now_and_then(conn)  # due again: the check finds it broken


@pytest.mark.django_db
def test_the_pool_uses_the_cheaper_check():
    pool = connection.pool
    if pool is None:
        pytest.skip("DATABASE_POOL is off")
    assert pool._check is backend.check_connection_now_and_then
