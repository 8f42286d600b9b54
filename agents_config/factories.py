"""Test data builders for agents (used by the test suite)."""

from __future__ import annotations

import copy
from typing import Any

import factory

from agents_config.demo_agent import demo_document
from agents_config.models import Agent
from agents_config.services import agent_create
from agents_config.test_suites.models import AgentTestCase, AgentTestRun
from agents_config.test_suites.services import agent_test_case_create
from tenants.factories import TenantFactory
from tenants.models import Tenant


def agent_document(**overrides: Any) -> dict[str, Any]:
    """A valid configuration document (the demo agent's) with top-level overrides."""
    document = copy.deepcopy(demo_document())
    document.pop("tenant_config", None)
    document.update(overrides)
    return document


def make_agent(*, tenant: Tenant | None = None, **overrides: Any) -> Agent:
    """An agent created through the real service (permissions granted, audit recorded)."""
    return agent_create(tenant=tenant or TenantFactory(), data=agent_document(**overrides))


def make_test_case(*, agent: Agent, name: str = "says hello", **overrides: Any) -> AgentTestCase:
    """A test case stored through the real service (validated by the contract)."""
    turns = overrides.pop("turns", [{"user": "Hello", "expect": [{"kind": "valid"}]}])
    return agent_test_case_create(agent=agent, name=name, turns=turns, **overrides)


class AgentTestRunFactory(factory.django.DjangoModelFactory):
    """A finished-looking run row (no Celery task), for admin and listing tests."""

    class Meta:
        model = AgentTestRun

    agent = factory.LazyAttribute(lambda run: run.case.agent)
    version_label = "draft"
    status = "passed"
