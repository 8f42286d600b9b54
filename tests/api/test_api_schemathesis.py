"""Property-based run of the whole API against its own OpenAPI schema (schemathesis).

Every operation gets a bounded number of generated requests (positive and negative, plus the
schema's examples) sent in-process through WSGI with an admin API key; no response may be a
5xx or contradict the schema (status code, content type, headers, body).
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from agents_config.apis import SEED_FIELD
from agents_config.factories import make_agent
from agents_config.services import agent_add_schema_field, agent_publish, agent_update_sections
from config.wsgi import application
from tenants.factories import TenantFactory
from tenants.services import api_key_create

pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def wsgi_keeps_test_transaction():
    """Calling the WSGI app directly fires request_started/finished, whose handler would close
    the test's connection mid-transaction; Django's test client disconnects it the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def admin_key(db):
    """An admin key of a tenant holding the agent named in the schema's examples."""
    tenant = TenantFactory()
    agent = make_agent(tenant=tenant, agent_id="interview-agent-v1")
    agent_publish(agent=agent, version="1.0.0")
    agent_update_sections(agent=agent, partial={"llm_config": {"temperature": 0.3}})
    agent_publish(agent=agent, version="1.1.0")
    agent_add_schema_field(agent=agent, field=dict(SEED_FIELD))
    return api_key_create(tenant=tenant, name="schemathesis", role="admin").raw_key


def load_schema() -> schemathesis.schemas.BaseSchema:
    # Loaded at collection (schemathesis' lazy fixture loader does not support pytest 9); the
    # WSGI client calls the app as host "localhost".
    with override_settings(ALLOWED_HOSTS=["localhost", "testserver"]):
        loaded = schemathesis.openapi.from_wsgi("/api/schema/", application)
    loaded.config.generation.update(
        max_examples=8, deterministic=True, with_security_parameters=False
    )
    return loaded


schema = load_schema()


@schema.parametrize()
@settings(
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    max_examples=8,
)
def test_api_conforms_to_schema(case, admin_key, settings, wsgi_keeps_test_transaction):
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_key}"}, checks=CHECKS)
