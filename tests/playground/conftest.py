"""Playground fixtures: a member with a password, and the demo agent with a bool field added
so every renderer kind (str, Literal, bounded int, list[str], bool) has a field."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from django.core.cache import cache

from agents_config.factories import agent_document
from agents_config.services import agent_create, agent_publish
from tenants.factories import MembershipFactory, UserFactory

PASSWORD = "playground-test-password"
RECORDED_TURNS = Path(__file__).with_name("recorded_turns.json")
BOOL_FIELD = {
    "field_name": "documents_verified",
    "field_type": "bool",
    "description": "Whether the applicant's passport and admission letter were checked.",
    "required": False,
    "default": None,
    "constraints": {},
    "metadata": {"spoken": False, "tts_instructions": False, "hidden": False},
}


@pytest.fixture(autouse=True)
def _clean_cache():
    """Session starts are rate-limited through the Redis cache; start every test from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def recorded_turns() -> list[dict]:
    """Structured turns of the demo agent as a room client receives them (hidden fields
    already stripped by the worker)."""
    return json.loads(RECORDED_TURNS.read_text())


@pytest.fixture
def demo_agent(tenant):
    """The demo agent plus a bool field, published as 1.0.0."""
    document = agent_document()
    schema = copy.deepcopy(document["schema_config"])
    schema["fields"].append(BOOL_FIELD)
    agent = agent_create(tenant=tenant, data={**document, "schema_config": schema})
    agent_publish(agent=agent, version="1.0.0")
    agent.refresh_from_db()
    return agent


@pytest.fixture
def member(tenant):
    """A non-staff viewer of the tenant who logs in with ``PASSWORD``."""
    user = UserFactory(username="ana")
    user.set_password(PASSWORD)
    user.save()
    MembershipFactory(user=user, tenant=tenant, role="viewer")
    return user


@pytest.fixture
def outsider(other_tenant):
    user = UserFactory(username="olga")
    user.set_password(PASSWORD)
    user.save()
    MembershipFactory(user=user, tenant=other_tenant, role="admin")
    return user
