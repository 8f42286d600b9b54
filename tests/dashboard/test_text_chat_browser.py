"""The playground's text chat in real Chromium against the fake LLM: type, get the turn drawn."""

from __future__ import annotations

import threading
from pathlib import Path

from agents_config.services import agent_update_sections
from tests.fakes.openai_server import Reply
from tests.playground.conftest import PASSWORD
from tests.playground.test_playground_browser import log_in, open_agent_page
from tests.playground.test_playground_browser import pytestmark as browser_pytestmark
from tests.worker.conftest import demo_turn

pytestmark = browser_pytestmark
DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_text_chat_with_the_fake_llm(member, demo_agent, fake_openai, live_server, page):
    agent_update_sections(
        agent=demo_agent,
        partial={"llm_config": dict(demo_agent.llm_config, base_url=fake_openai.base_url)},
    )
    fake_openai.add(
        demo_turn("Good day. Your passport, please.", interview_stage="document_check"),
        demo_turn("Why this university?", interview_stage="academic_assessment"),
    )
    log_in(page, live_server.url, member.username, PASSWORD)
    open_agent_page(page, f"{live_server.url}/playground/{demo_agent.agent_id}/")
    page.select_option("#text-chat-version", "draft")
    page.fill("#text-chat-input", "Hello officer")
    page.click("#text-chat-send")
    page.wait_for_selector('#turns .pg-turn[data-turn="1"]')
    page.fill("#text-chat-input", "Here is my passport.")
    page.click("#text-chat-send")
    page.wait_for_selector('#turns .pg-turn[data-turn="2"]')
    said = page.locator("#transcript .pg-agent .pg-said").all_inner_texts()
    assert said == ["Good day. Your passport, please.", "Why this university?"]
    users = page.locator("#transcript .pg-user .pg-said").all_inner_texts()
    assert users == ["Hello officer", "Here is my passport."]
    assert "academic" in page.locator('#turns .pg-turn[data-turn="2"]').inner_text().lower()
    assert "secret notes" not in page.content()  # the hidden field never reaches the page
    assert page.js_errors == []
    page.screenshot(path=str(DOCS / "playground-text-chat.png"), full_page=True)


def test_text_chat_streams_the_spoken_text(member, demo_agent, fake_openai, live_server, page):
    """The fake LLM stops mid-sentence until the test releases it: the first words are on
    the page, still streaming, before the rest of the reply exists, then the turn is drawn."""
    agent_update_sections(
        agent=demo_agent,
        partial={"llm_config": dict(demo_agent.llm_config, base_url=fake_openai.base_url)},
    )
    reply = demo_turn("Good day. Your passport and your admission letter, please.")
    release = threading.Event()
    fake_openai.add(Reply(reply, hold_at=reply.index("passport"), release=release))
    log_in(page, live_server.url, member.username, PASSWORD)
    open_agent_page(page, f"{live_server.url}/playground/{demo_agent.agent_id}/")
    page.select_option("#text-chat-version", "draft")
    page.fill("#text-chat-input", "Hello officer")
    try:
        page.click("#text-chat-send")
        streaming = page.locator('#transcript .pg-agent[data-streaming="true"] .pg-said')
        streaming.wait_for()
        page.wait_for_function(
            "() => document.querySelector('#transcript .pg-agent .pg-said')"
            ".textContent.includes('Good day.')"
        )
        partial = streaming.inner_text()
        assert partial.startswith("Good day.") and "passport" not in partial
        assert page.locator("#turns .pg-turn").count() == 0  # the turn is not finished yet
        assert page.get_attribute("#text-chat-status", "data-state") == "streaming"
        page.screenshot(path=str(DOCS / "playground-text-chat-streaming.png"))
    finally:
        release.set()
    page.wait_for_selector('#turns .pg-turn[data-turn="1"]')
    said = page.locator("#transcript .pg-agent .pg-said").all_inner_texts()
    assert said == ["Good day. Your passport and your admission letter, please."]
    assert page.locator('#transcript [data-streaming="true"]').count() == 0
    assert page.locator("#transcript .pg-user .pg-said").all_inner_texts() == ["Hello officer"]
    assert page.js_errors == []
