"""Test data builders for agents (used by the test suite)."""

from __future__ import annotations

import copy
from typing import Any

from agents_config.demo import demo_document
from agents_config.models import Agent
from agents_config.services import agent_create
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
