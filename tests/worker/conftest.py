"""Fixtures for the worker tests: a fake OpenAI-compatible server and agent builders."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection

from agents_config.contracts import parse_document
from agents_config.factories import agent_document
from agents_config.providers import ProviderKeys
from tests.fakes.openai_server import FakeOpenAI
from worker.agent import AgentBlueprint, resolve_variables
from worker.factory import AgentFactory


@pytest.fixture
def fake_openai():
    with FakeOpenAI() as server:
        yield server


def demo_turn(spoken: str, **fields: Any) -> str:
    """A structured reply of the demo agent, in the schema's speech-first order."""
    turn = {
        "voice_instructions": fields.pop("voice_instructions", "Calm and formal."),
        "system_response": spoken,
        "internal_assessment": fields.pop("internal_assessment", "secret notes"),
        "interview_stage": fields.pop("interview_stage", "document_check"),
        "credibility_score": fields.pop("credibility_score", 6),
        "red_flags": fields.pop("red_flags", []),
    }
    turn.update(fields)
    return json.dumps(turn)


def build_factory(base_url: str, **overrides: Any) -> AgentFactory:
    raw = agent_document(**overrides)
    raw["llm_config"] = {**raw["llm_config"], "base_url": base_url}
    document = parse_document(raw)
    return AgentFactory(document=document, keys=ProviderKeys(openai="sk-test"), text_only=True)


def blueprint_for(factory: AgentFactory, **details: Any) -> AgentBlueprint:
    return AgentBlueprint(
        document=factory.document,
        variables=resolve_variables(factory.document, user_details=details),
        version="1.0.0",
    )


@pytest.fixture
def job_env(monkeypatch, fake_openai):
    """Job processes are fresh interpreters: point them at the test database and fake OpenAI."""
    name = connection.settings_dict["NAME"]
    monkeypatch.setenv("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{name}")
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "config.test_settings")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("DEEPGRAM_API_KEY", "dg-test")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("LIVEKIT_AGENTS_PRELOAD_LOCAL_INFERENCE", "0")
    return fake_openai
