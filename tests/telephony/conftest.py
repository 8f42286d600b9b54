"""Telephony fixtures: eager retries run inline."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def eager_retries():
    """Let eager retries run inline instead of propagating the Retry signal."""
    from config.celery import app

    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = True
