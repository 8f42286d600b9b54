"""The version-experiment page in real Chromium: the comparison table inside the viewport,
a split saved, then a version promoted; a screenshot for the README."""

from __future__ import annotations

from pathlib import Path

from agents_config.experiments import experiment_set
from agents_config.models import VersionExperiment
from tests.dashboard.conftest import admin_log_in
from tests.economics.test_experiment_admin import seed_comparison
from tests.economics.test_experiments import two_versions  # noqa: F401
from tests.playground.test_playground_browser import pytestmark as browser_pytestmark

pytestmark = browser_pytestmark
DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_compare_split_and_promote(operator, two_versions, live_server, page):  # noqa: F811
    seed_comparison(two_versions)
    experiment_set(agent=two_versions, weights={"1.0.0": 90, "1.1.0": 10})
    admin_log_in(page, live_server.url, operator.username)
    page.goto(f"{live_server.url}/admin/agents_config/agent/{two_versions.pk}/change/")
    page.click("text=Experiment…")
    page.wait_for_selector("#comparison table")
    table = page.locator("#comparison table").bounding_box()
    assert table["x"] >= 0 and table["x"] + table["width"] <= 1280
    row = page.locator('tr[data-version="1.1.0"]')
    assert row.locator(".first-audio").inner_text() == "600.0 / 700.0"
    assert row.locator(".outcomes").inner_text() == "refused: 2"
    page.screenshot(path=str(DOCS / "admin-experiment.png"), full_page=True)

    page.fill('input[name="weight-1.0.0"]', "50")
    page.fill('input[name="weight-1.1.0"]', "50")
    page.click('#split-form input[type="submit"]')
    page.wait_for_selector("text=The split is saved")
    assert VersionExperiment.objects.get(agent=two_versions).weights == {"1.0.0": 50, "1.1.0": 50}

    page.click('tr[data-version="1.0.0"] button.promote')
    page.wait_for_selector("text=1.0.0 is live at 100 %")
    two_versions.refresh_from_db()
    assert two_versions.published_version.version == "1.0.0"
    assert page.js_errors == []
