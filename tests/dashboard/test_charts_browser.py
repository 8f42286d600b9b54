"""The charts page and a session's latency breakdown in real Chromium (SVG, no JS)."""

from __future__ import annotations

from pathlib import Path

from tests.dashboard.conftest import admin_log_in
from tests.dashboard.test_charts import seed_turns
from tests.playground.test_playground_browser import pytestmark as browser_pytestmark

pytestmark = browser_pytestmark
DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_charts_and_latency_breakdown(operator, published_agent, live_server, page):
    session = seed_turns(published_agent)
    admin_log_in(page, live_server.url, operator.username)
    page.goto(f"{live_server.url}/admin/agents_config/agent/{published_agent.pk}/change/")
    page.click("text=Charts")
    page.wait_for_selector("#charts svg")
    assert page.locator("#charts figure.chart svg").count() == 6
    assert page.locator('figure.chart g[data-series="1.0.0"] circle').count() == 2
    p50 = page.locator('g[data-series="p50"] circle').first
    assert p50.bounding_box()["width"] > 0  # drawn, not just in the markup
    for chart in page.locator("#charts figure.chart").all():
        box = chart.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1280
    page.screenshot(path=str(DOCS / "admin-charts.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/sessions_app/session/{session.pk}/change/")
    bars = page.locator("figure.latency-breakdown rect.latency")
    assert bars.count() == 30
    bars.first.scroll_into_view_if_needed()
    longest = page.locator('rect.latency[data-kind="first_spoken_ms"][data-value="1000"]')
    shortest = page.locator('rect.latency[data-kind="first_spoken_ms"][data-value="100"]')
    assert longest.bounding_box()["width"] > 5 * shortest.bounding_box()["width"]
    audio = page.locator('rect.latency[data-kind="e2e_latency_ms"][data-value="2000"]')
    assert audio.bounding_box()["width"] > longest.bounding_box()["width"]
    page.locator("figure.latency-breakdown").screenshot(
        path=str(DOCS / "admin-session-latency.png")
    )
