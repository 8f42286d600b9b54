"""The publish page in real Chromium: live version, next version and the draft → live diff;
the agent list's draft badge."""

from __future__ import annotations

from pathlib import Path

from agents_config import services
from tests.dashboard.conftest import admin_log_in
from tests.playground.test_playground_browser import db_read
from tests.playground.test_playground_browser import pytestmark as browser_pytestmark

pytestmark = browser_pytestmark
DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_publish_preview_and_badge(operator, agent, live_server, page):
    services.agent_publish(agent=agent, version="1.0.0", note="first cut")
    services.agent_update_sections(agent=agent, partial={"llm_config": {"temperature": 0.1}})
    admin_log_in(page, live_server.url, operator.username)

    page.goto(f"{live_server.url}/admin/agents_config/agent/")
    badge = page.locator(".draft-badge").first
    assert badge.inner_text() == "unpublished changes"
    page.screenshot(path=str(DOCS / "admin-agent-list.png"))

    page.goto(f"{live_server.url}/admin/agents_config/agent/{agent.pk}/publish/")
    assert "1.0.0" in page.locator("#live-version").inner_text()
    assert "1.1.0" in page.locator("#next-version").inner_text()
    diff = page.locator("#draft-diff table.config-diff")
    assert "llm_config.temperature" in diff.inner_text()
    box = diff.bounding_box()
    assert box["x"] + box["width"] <= 1280
    page.screenshot(path=str(DOCS / "admin-publish-preview.png"))
    page.fill("textarea[name=note]", "cooler")
    page.click("input[type=submit].default")
    page.wait_for_selector(".messagelist")
    assert "Published visa-interview-officer 1.1.0" in page.locator(".messagelist").inner_text()
    agent = db_read(
        lambda: type(agent).objects.select_related("published_version").get(pk=agent.pk)
    )
    assert (agent.published_version.version, agent.published_version.note) == ("1.1.0", "cooler")
    assert page.locator(".draft-state .draft-badge").inner_text() == "in sync"
