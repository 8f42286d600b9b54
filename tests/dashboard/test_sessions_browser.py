"""The End-session action and the live-sessions view in real Chromium."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.utils import timezone

from sessions_app.factories import SessionFactory
from sessions_app.models import Session, SessionStatus
from tests.dashboard.conftest import admin_log_in
from tests.playground.test_playground_browser import db_read
from tests.playground.test_playground_browser import pytestmark as browser_pytestmark

pytestmark = browser_pytestmark
DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_end_session_action_and_live_view(operator, published_agent, live_server, page):
    old = timezone.now() - dt.timedelta(minutes=10)
    stuck = SessionFactory(agent=published_agent, status=SessionStatus.PENDING, created_at=old)
    active = SessionFactory(agent=published_agent, status=SessionStatus.ACTIVE)
    admin_log_in(page, live_server.url, operator.username)

    page.goto(f"{live_server.url}/admin/sessions_app/session/live/")
    assert page.locator(f'tr.stuck[data-session="{stuck.pk}"]').count() == 1
    assert page.locator(f'tr[data-session="{active.pk}"]:not(.stuck)').count() == 1
    page.screenshot(path=str(DOCS / "admin-live-sessions.png"))

    page.goto(f"{live_server.url}/admin/sessions_app/session/")
    page.locator(f'input[name=_selected_action][value="{active.pk}"]').check()
    page.select_option("select[name=action]", "end_sessions")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    assert "Ended 1 session(s)." in page.locator(".messagelist").inner_text()
    status = db_read(lambda: Session.objects.get(pk=active.pk).status)
    assert status == SessionStatus.ENDED
