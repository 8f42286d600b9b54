"""Dashboard browser fixtures: the playground suite's headless Chromium page, and a superuser
who logs in to the admin with a password."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.playground.conftest import demo_agent, member, password  # noqa: F401
from tests.playground.test_playground_browser import browser_settings, page  # noqa: F401

PASSWORD = "dashboard-test-password"
ARTIFACTS_SUBDIR = "dashboard"


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def operator(superuser):
    superuser.set_password(PASSWORD)
    superuser.save()
    return superuser


def admin_log_in(browser_page, base_url: str, username: str) -> None:
    browser_page.goto(f"{base_url}/admin/login/")
    browser_page.fill("#id_username", username)
    browser_page.fill("#id_password", PASSWORD)
    browser_page.click("input[type=submit]")
    browser_page.wait_for_url(f"{base_url}/admin/")


@pytest.fixture
def fake_openai(settings):
    """The fake OpenAI-compatible server (tests/fakes), with a platform key set."""
    from tests.fakes.openai_server import FakeOpenAI

    settings.OPENAI_API_KEY = "sk-test"
    with FakeOpenAI() as server:
        yield server
