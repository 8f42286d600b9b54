"""The schema fields editor at 1,280 px in real Chromium: every column, input and error is
on screen; a new row is optional at the next position."""

from __future__ import annotations

from pathlib import Path

from agents_config.models import SchemaField
from tests.dashboard.conftest import admin_log_in
from tests.playground.test_playground_browser import db_read
from tests.playground.test_playground_browser import pytestmark as browser_pytestmark

pytestmark = browser_pytestmark
DOCS = Path(__file__).resolve().parents[2] / "docs"


def _inside_viewport(page, selector: str) -> list[str]:
    """The elements matching ``selector`` whose box leaves the 1,280 px viewport."""
    width = page.viewport_size["width"]
    outside = []
    for element in page.locator(selector).all():
        if not element.is_visible():
            continue
        box = element.bounding_box()
        if box["x"] < 0 or box["x"] + box["width"] > width:
            outside.append(f"{element.evaluate('e => e.name || e.className')}: {box}")
    return outside


def test_every_column_fits_and_a_new_row_takes_a_default(operator, agent, live_server, page):
    admin_log_in(page, live_server.url, operator.username)
    page.goto(f"{live_server.url}/admin/agents_config/agent/{agent.pk}/change/")
    group = page.locator("#schema_fields-group")
    group.scroll_into_view_if_needed()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert _inside_viewport(page, "#schema_fields-group th") == []
    assert _inside_viewport(page, "#schema_fields-group tr.form-row:not(.empty-form) td") == []
    inputs = "#schema_fields-group tr.form-row:not(.empty-form) :is(input, textarea, select)"
    assert _inside_viewport(page, inputs) == []

    existing = db_read(lambda: list(SchemaField.objects.filter(agent=agent)))
    page.click("#schema_fields-group .add-row a")
    row = page.locator("#schema_fields-group tr.dynamic-schema_fields").last
    assert row.locator("input[name$='-required']").is_checked() is False
    position = int(row.locator("input[name$='-position']").input_value())
    assert position == max(f.position for f in existing) + 1
    row.locator("input[name$='-field_name']").fill("visit_purpose")
    row.locator("input[name$='-field_type']").fill("str")
    row.locator("textarea[name$='-default']").fill('"tourism"')
    assert _inside_viewport(page, "#schema_fields-group tr.dynamic-schema_fields td") == []
    page.screenshot(path=str(DOCS / "admin-schema-editor.png"), full_page=False)
    page.click("input[name=_continue]")
    page.wait_for_load_state()
    assert page.locator(".errornote").count() == 0, page.locator("#content").inner_text()[:2000]
    page.wait_for_selector(".messagelist .success")
    saved = db_read(lambda: SchemaField.objects.get(agent=agent, field_name="visit_purpose"))
    assert (saved.required, saved.default, saved.position) == (False, "tourism", position)


def test_errors_are_summarised_above_the_table_with_the_field_name(
    operator, agent, live_server, page
):
    admin_log_in(page, live_server.url, operator.username)
    page.goto(f"{live_server.url}/admin/agents_config/agent/{agent.pk}/change/")
    first = page.locator("#schema_fields-group tr.has_original").first
    name = first.locator("input[name$='-field_name']").input_value()
    first.locator("input[name$='-required']").check()
    first.locator("textarea[name$='-default']").fill('"x"')
    first.locator("textarea[name$='-constraints']").fill("{not json")
    page.click("input[name=_continue]")
    summary = page.locator("#schema-error-summary")
    summary.wait_for()
    text = summary.inner_text()
    assert name in text and "Constraints" in text
    assert summary.bounding_box()["x"] + summary.bounding_box()["width"] <= 1280
    errors = "#schema_fields-group ul.errorlist"
    assert page.locator(errors).count() >= 1
    assert _inside_viewport(page, errors) == []
