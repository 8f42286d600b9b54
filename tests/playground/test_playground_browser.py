"""The playground in real headless Chromium (Debian's /usr/bin/chromium driven by Playwright;
no browser download): login, agent list, session start against the fake LiveKit server, and
the schema renderer fed recorded structured turns through the page's own turn handler."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from sessions_app.models import Session

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not CHROMIUM.exists() and not shutil.which("chromium"),
        reason="Debian's chromium is not installed (.ci/run installs it)",
    ),
]


@pytest.fixture
def browser_settings(transactional_db, settings, monkeypatch):
    # transactional_db first: the test database is then set up before the session-wide live
    # server starts, and so dropped only after it stops (no connection left behind).
    # Plain-HTTP live server: cookies may not be Secure-only. Playwright's sync API runs an
    # event loop in this thread, so Django's async-safety check would refuse ORM calls.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # The live server's request threads must not keep connections open past the test, or the
    # test database cannot be dropped at the end of the run.
    from django.db import connections

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    return settings


@pytest.fixture
def page(browser_settings, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh user-data-dir per test
            executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(15_000)
        errors: list[str] = []
        page = context.pages[0] if context.pages else context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.js_errors = errors
        try:
            yield page
        finally:
            context.close()


def db_read(read: Callable[[], Any]) -> Any:
    """Run an ORM read off the Playwright-driven thread: the sync API keeps an event loop
    there, and a connection opened in its context would outlive the test database."""
    from django.db import connections

    def run() -> Any:
        try:
            return read()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def open_agent_page(page, url: str) -> None:
    if url:
        page.goto(url)
    page.wait_for_function("() => window.playground !== undefined")  # all scripts have run


def log_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/playground/")
    assert "/accounts/login/" in page.url  # login required
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/playground/")


def test_login_list_and_session_start(
    member, password, demo_agent, live_server, livekit_server, page
):
    log_in(page, live_server.url, member.username, password)
    item = page.locator(f'#agent-list [data-agent="{demo_agent.agent_id}"]')
    assert item.count() == 1 and "Visa interview officer" in item.inner_text()

    item.locator("a").click()
    page.wait_for_url(f"**/playground/{demo_agent.agent_id}/?tenant=*")
    open_agent_page(page, "")
    assert page.evaluate("typeof window.LivekitClient") == "object"  # the vendored SDK loaded
    assert page.evaluate("typeof window.playground.handleStructuredTurn") == "function"
    assert page.inner_text("#live-version") == "1.0.0"

    page.fill("#detail-applicant_name", "Ana")
    page.click("#start-session")
    page.wait_for_selector('#livekit-token[data-received="true"]')
    assert page.inner_text("#livekit-url") == livekit_server.url
    assert "received" in page.inner_text("#livekit-token")
    session = db_read(Session.objects.get)
    assert page.inner_text("#session-id") == str(session.id)
    assert session.user_id == "ana" and session.user_details == {"applicant_name": "Ana"}
    assert session.room_name in livekit_server.state.rooms  # provisioned on the fake server
    # No real LiveKit server here: the SDK's connection attempt must end in a clear message.
    page.wait_for_function(
        "document.getElementById('status').dataset.state === 'connect-failed'", timeout=30_000
    )
    assert "Could not connect to LiveKit" in page.inner_text("#status")
    assert page.is_disabled("#chat-input")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "playground-session.png"), full_page=True)
    assert page.js_errors == []


def test_renderer_draws_recorded_turns_from_the_schema(
    member, password, demo_agent, recorded_turns, live_server, livekit_server, page
):
    log_in(page, live_server.url, member.username, password)
    open_agent_page(page, f"{live_server.url}/playground/{demo_agent.agent_id}/")
    first, second = recorded_turns
    # Through the same handler the room calls: a data packet (bytes) and a text stream (str).
    page.evaluate(
        """([first, second]) => {
            const bytes = new TextEncoder().encode(JSON.stringify(first));
            window.playground.handleData(bytes, null, 0, 'llm-structured-response');
            window.playground.handleStructuredTurn(JSON.stringify(second));
            window.playground.handleStructuredTurn(JSON.stringify(second));  // duplicate
        }""",
        [first, second],
    )
    assert page.locator(".pg-turn").count() == 2
    turn = page.locator('.pg-turn[data-turn="2"]')

    def field(name: str):
        return turn.locator(f'.pg-field[data-field="{name}"]')

    stage = field("interview_stage")
    assert stage.get_attribute("data-kind") == "literal"
    assert stage.locator(".pg-badge").inner_text().lower() == "financial review"
    assert stage.locator(".pg-stages li").count() == 6
    assert stage.locator('[aria-current="step"]').inner_text() == "financial review"

    score = field("credibility_score")
    meter = score.locator("meter")
    assert score.get_attribute("data-kind") == "int"
    assert (meter.get_attribute("min"), meter.get_attribute("max")) == ("1", "10")
    assert meter.get_attribute("value") == "7"
    assert "range 1–10" in score.inner_text()

    flags = field("red_flags").locator(".pg-chip")
    assert flags.all_inner_texts() == ["vague study plan", "insufficient funds"]
    assert "none" in page.locator('.pg-turn[data-turn="1"] [data-field="red_flags"]').inner_text()

    verified = field("documents_verified").locator("input[type=checkbox]")
    assert verified.is_checked() and verified.is_disabled()
    unverified = page.locator('.pg-turn[data-turn="1"] [data-field="documents_verified"] input')
    assert not unverified.is_checked()

    spoken = field("system_response")
    assert spoken.get_attribute("data-kind") == "str"
    assert spoken.locator(".pg-text").inner_text() == second["data"]["system_response"]
    assert "spoken" in spoken.locator("dt").inner_text()
    description = page.evaluate(
        "window.playground.config.schema.find(f => f.name === 'credibility_score').description"
    )
    assert score.get_attribute("title") == description  # the description is the tooltip

    # The transcript shows only the agent's spoken text, never the JSON.
    agent_lines = page.locator('#transcript [data-speaker="agent"] .pg-said').all_inner_texts()
    assert agent_lines == [first["spoken_text"], second["spoken_text"]]

    page.evaluate(
        """() => window.playground.handleData(new TextEncoder().encode(JSON.stringify(
            {type: 'config_changed', agent_id: 'visa-interview-officer', version: '1.1.0',
             action: 'reload_recommended'})), null, 0, 'config-update')"""
    )
    notice = page.locator("#config-notice")
    assert notice.is_visible() and "1.1.0" in notice.inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "playground.png"), full_page=True)
    assert (ARTIFACTS / "playground.png").stat().st_size > 10_000

    # A hidden field never arrives; if one did, the renderer (schema-driven) would not show it.
    leaked = {**second, "turn": 3, "data": {**second["data"], "internal_assessment": "SECRET"}}
    page.evaluate("t => window.playground.handleStructuredTurn(t)", json.dumps(leaked))
    assert page.locator('.pg-turn[data-turn="3"] [data-field]').count() == 6
    assert page.locator('[data-field="internal_assessment"]').count() == 0
    assert "SECRET" not in page.content() and "internal_assessment" not in page.content()

    assert page.js_errors == []


@pytest.fixture
def past_session(demo_agent, recorded_turns):
    from sessions_app.factories import SessionFactory, TurnFactory

    session = SessionFactory(agent=demo_agent, user_id="ana")
    for recorded in recorded_turns:
        TurnFactory(
            session=session,
            index=recorded["turn"],
            user_text=f"Answer {recorded['turn']}",
            spoken_text=recorded["spoken_text"],
            structured_output={**recorded["data"], "internal_assessment": "SECRET-NOTE"},
            validation_errors=[],
        )
    return session


def test_past_session_is_drawn_by_the_same_renderer(
    member, password, past_session, live_server, page
):
    log_in(page, live_server.url, member.username, password)
    open_agent_page(page, f"{live_server.url}/playground/sessions/{past_session.pk}/")
    assert page.locator(".pg-turn").count() == 2
    lines = page.locator("#transcript .pg-line")
    assert [line.get_attribute("data-speaker") for line in lines.all()] == [
        "user",
        "agent",
        "user",
        "agent",
    ]
    assert page.locator('.pg-turn[data-turn="2"] .pg-chip').count() == 2
    assert page.locator('[data-field="internal_assessment"]').count() == 0
    assert "SECRET-NOTE" not in page.content()
    assert page.locator("#session-form").count() == 0  # nothing to start on a past session
    assert page.js_errors == []
