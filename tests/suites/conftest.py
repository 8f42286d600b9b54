"""Fixtures for the agent test-suite tests: an agent pointed at a fake OpenAI-compatible
server that answers deterministically per prompt (the last user message)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agents_config.services import agent_update_sections
from tests.api.conftest import _clean_cache, key_client  # noqa: F401 - shared fixtures
from tests.fakes.openai_server import FakeOpenAI, Reply, last_user_message
from tests.worker.conftest import demo_turn

JUDGE_MARKER = "judge of an automated test"


def by_prompt(replies: dict[str, str], *, judge: dict[str, dict[str, Any]] | None = None) -> Any:
    """A reply script: the agent's reply per user message, the judge's verdict per intent
    (the first intent key found in the judge prompt)."""

    def script(body: dict[str, Any]) -> Reply | str:
        messages = body.get("messages", [])
        if messages and JUDGE_MARKER in str(messages[0].get("content")):
            prompt = last_user_message(body)
            for intent, verdict in (judge or {}).items():
                if intent in prompt:
                    return json.dumps(verdict)
            return json.dumps({"pass": False, "reason": "unknown intent"})
        return replies.get(last_user_message(body), demo_turn("I did not expect that."))

    return script


@pytest.fixture
def fake_openai(settings):
    settings.OPENAI_API_KEY = "sk-test"
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def suite_agent(agent, fake_openai):
    """The demo agent, its LLM pointed at the fake server (the draft)."""
    llm = dict(agent.llm_config, base_url=fake_openai.base_url)
    return agent_update_sections(agent=agent, partial={"llm_config": llm})
