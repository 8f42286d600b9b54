"""Every endpoint × role (admin, developer, viewer, anonymous) × own tenant / other tenant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from guardian.shortcuts import assign_perm, remove_perm
from rest_framework.test import APIClient

from agents_config.apis import SEED_FIELD
from agents_config.factories import agent_document, make_agent
from agents_config.services import (
    agent_add_schema_field,
    agent_publish,
    agent_update_sections,
)
from tenants.factories import MembershipFactory, TenantFactory, UserFactory
from tenants.services import tenant_role_group

AGENT = "own-agent"
OTHER_AGENT = "their-agent"


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str  # "{agent}" is replaced by the target agent's id
    expected: dict[str, int]  # role → status in the caller's own tenant
    body: Any = None

    def call(self, client: APIClient, agent_id: str):
        url = "/api/v1/" + self.path.format(agent=agent_id)
        call = getattr(client, self.method.lower())
        if self.body is None:
            return call(url)
        return call(url, self.body, format="json")


READ = {"admin": 200, "developer": 200, "viewer": 200}
UPDATE = {"admin": 200, "developer": 200, "viewer": 403}
UPDATE_CREATED = {"admin": 201, "developer": 201, "viewer": 403}

OBJECT_ENDPOINTS = [
    Endpoint("config-get", "GET", "agents/config/{agent}", READ),
    Endpoint("config-get-version", "GET", "agents/config/{agent}?version=1.0.0", READ),
    Endpoint("config-put", "PUT", "agents/config/{agent}", UPDATE, body={"name": "Renamed"}),
    Endpoint(
        "config-delete",
        "DELETE",
        "agents/config/{agent}",
        {"admin": 200, "developer": 403, "viewer": 403},
    ),
    Endpoint(
        "field-add",
        "POST",
        "agents/config/{agent}/schema/fields",
        UPDATE,
        body={**SEED_FIELD, "field_name": "fluency_score"},
    ),
    Endpoint(
        "field-remove", "DELETE", "agents/config/{agent}/schema/fields/pronunciation_score", UPDATE
    ),
    Endpoint("tracing", "POST", "agents/config/{agent}/tracing/toggle?enabled=true", UPDATE),
    Endpoint(
        "publish", "POST", "agents/config/{agent}/publish", UPDATE_CREATED, body={"bump": "minor"}
    ),
    Endpoint("versions", "GET", "agents/config/{agent}/versions", READ),
    Endpoint("version", "GET", "agents/config/{agent}/versions/1.0.0", READ),
    Endpoint("diff", "GET", "agents/config/{agent}/versions/1.0.0/diff/1.1.0", READ),
    Endpoint("diff-draft", "GET", "agents/config/{agent}/versions/1.1.0/diff/draft", READ),
    Endpoint(
        "rollback",
        "POST",
        "agents/config/{agent}/rollback",
        UPDATE_CREATED,
        body={"version": "1.0.0"},
    ),
    Endpoint("export", "GET", "agents/config/{agent}/export", READ),
]

CREATE = {"admin": 201, "developer": 403, "viewer": 403}
TENANT_ENDPOINTS = [
    Endpoint("create", "POST", "agents/config", CREATE, body=agent_document(agent_id="brand-new")),
    Endpoint("list", "GET", "agents/list", READ),
    Endpoint("import", "POST", "agents/import", CREATE, body=agent_document(agent_id="imported")),
    Endpoint("tenant-me", "GET", "tenants/me", READ),
]
ROLES = ["admin", "developer", "viewer"]


def build_agent(tenant, agent_id: str):
    """Published 1.0.0 and 1.1.0, a draft with unpublished changes and an extra field."""
    agent = make_agent(tenant=tenant, agent_id=agent_id)
    agent_publish(agent=agent, version="1.0.0")
    agent_update_sections(agent=agent, partial={"llm_config": {"temperature": 0.3}})
    agent_publish(agent=agent, version="1.1.0")
    agent_add_schema_field(agent=agent, field=dict(SEED_FIELD))
    return agent


@pytest.fixture
def world(db):
    tenant, other = TenantFactory(), TenantFactory()
    return {
        "tenant": tenant,
        "other": other,
        "agent": build_agent(tenant, AGENT),
        "their_agent": build_agent(other, OTHER_AGENT),
    }


@pytest.mark.parametrize("endpoint", OBJECT_ENDPOINTS, ids=lambda e: e.name)
@pytest.mark.parametrize("role", ROLES)
def test_object_endpoint_in_own_tenant(world, key_client, endpoint, role):
    response = endpoint.call(key_client(world["tenant"], role), AGENT)
    assert response.status_code == endpoint.expected[role], response.content
    if response.status_code >= 400:
        assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize("endpoint", OBJECT_ENDPOINTS, ids=lambda e: e.name)
@pytest.mark.parametrize("role", ROLES)
def test_object_endpoint_in_other_tenant_is_404(world, key_client, endpoint, role):
    response = endpoint.call(key_client(world["tenant"], role), OTHER_AGENT)
    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("endpoint", OBJECT_ENDPOINTS + TENANT_ENDPOINTS, ids=lambda e: e.name)
@pytest.mark.parametrize("target", [AGENT, OTHER_AGENT])
def test_anonymous_is_401(world, anon_client, endpoint, target):
    response = endpoint.call(anon_client, target)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("endpoint", TENANT_ENDPOINTS, ids=lambda e: e.name)
@pytest.mark.parametrize("role", ROLES)
def test_tenant_endpoint(world, key_client, endpoint, role):
    response = endpoint.call(key_client(world["tenant"], role), "")
    assert response.status_code == endpoint.expected[role], response.content


@pytest.mark.parametrize("role", ROLES)
def test_list_shows_only_own_tenant(world, key_client, role):
    response = key_client(world["tenant"], role).get("/api/v1/agents/list")
    assert [a["agent_id"] for a in response.json()["agents"]] == [AGENT]


def test_create_and_import_ignore_other_tenants_ids(world, key_client):
    client = key_client(world["tenant"], "admin")
    document = agent_document(agent_id=OTHER_AGENT)
    assert client.post("/api/v1/agents/config", document, format="json").status_code == 201
    document = agent_document(agent_id="x-" + OTHER_AGENT)
    assert client.post("/api/v1/agents/import", document, format="json").status_code == 201
    assert world["their_agent"].tenant == world["other"]


def test_invalid_and_revoked_keys_are_401(world, key_client):
    from tenants.models import ApiKey
    from tenants.services import api_key_revoke

    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer vak_000000000000_nope")
    response = bad.get(f"/api/v1/agents/config/{AGENT}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    client = key_client(world["tenant"], "admin")
    api_key_revoke(api_key=ApiKey.objects.get(tenant=world["tenant"]))
    assert client.get(f"/api/v1/agents/config/{AGENT}").status_code == 401


# --- session-authenticated users --------------------------------------------------------------


def session_client(user, tenant_slug: str | None = None) -> APIClient:
    client = APIClient()
    client.force_login(user)
    if tenant_slug:
        client.credentials(HTTP_X_TENANT=tenant_slug)
    return client


@pytest.mark.parametrize("endpoint", OBJECT_ENDPOINTS, ids=lambda e: e.name)
@pytest.mark.parametrize("role", ROLES)
def test_session_user_matrix(world, member_factory, endpoint, role):
    user = member_factory(world["tenant"], role)
    assert endpoint.call(session_client(user), AGENT).status_code == endpoint.expected[role]
    assert endpoint.call(session_client(user), OTHER_AGENT).status_code == 404


def test_session_user_tenant_choice(world, member_factory):
    user = member_factory(world["tenant"], "viewer")
    MembershipFactory(user=user, tenant=world["other"], role="admin")
    url = f"/api/v1/agents/config/{OTHER_AGENT}"
    response = session_client(user).get(url)
    assert response.status_code == 403  # several tenants, none chosen
    assert "X-Tenant" in response.json()["error"]["message"]
    assert session_client(user, world["other"].slug).get(url).status_code == 200
    me = session_client(user, world["tenant"].slug).get("/api/v1/tenants/me").json()
    assert (me["tenant"]["slug"], me["role"], me["auth"]) == (
        world["tenant"].slug,
        "viewer",
        "session",
    )
    assert session_client(user, "no-such-tenant").get(url).status_code == 403


def test_superuser_is_not_implicitly_a_member(world, superuser):
    response = session_client(superuser).get(f"/api/v1/agents/config/{AGENT}")
    assert response.status_code == 403
    response = session_client(superuser, world["tenant"].slug).get(f"/api/v1/agents/config/{AGENT}")
    assert response.status_code == 403


# --- per-object permissions through guardian -------------------------------------------------


def test_withheld_agent_is_403_and_hidden_from_list(world, key_client, member_factory):
    agent = world["agent"]
    remove_perm("view_agent", tenant_role_group(tenant=world["tenant"], role="viewer"), agent)
    viewer_key = key_client(world["tenant"], "viewer")
    response = viewer_key.get(f"/api/v1/agents/config/{AGENT}")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert viewer_key.get("/api/v1/agents/list").json()["agents"] == []
    viewer_user = member_factory(world["tenant"], "viewer")
    assert session_client(viewer_user).get(f"/api/v1/agents/config/{AGENT}").status_code == 403
    # Other roles are unaffected.
    assert key_client(world["tenant"], "developer").get("/api/v1/agents/list").json()["agents"]


def test_agent_shared_with_one_user(world, member_factory):
    viewer, other_viewer = (member_factory(world["tenant"], "viewer") for _ in range(2))
    assign_perm("agents_config.change_agent", viewer, world["agent"])
    url = f"/api/v1/agents/config/{AGENT}"
    assert session_client(viewer).put(url, {"name": "Mine"}, format="json").status_code == 200
    response = session_client(other_viewer).put(url, {"name": "No"}, format="json")
    assert response.status_code == 403


def test_user_without_membership_is_403(world):
    user = UserFactory()
    response = session_client(user).get("/api/v1/tenants/me")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
