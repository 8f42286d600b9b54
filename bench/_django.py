"""Shared set-up for the benches that need Django and PostgreSQL (not a bench itself)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(**env_defaults: str) -> None:
    """Environment defaults, the bench database (created and migrated on first use), Django."""
    defaults = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "1",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/voiceagents_bench",
        **env_defaults,
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    import psycopg

    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        if not c.execute("select 1 from pg_database where datname = %s", [name]).fetchone():
            c.execute(f'create database "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
