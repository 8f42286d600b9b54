"""Tenant secrets through the API and the admin: tenant admins only, value never returned
or shown, stored encrypted, audited."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tenants.models import AuditEvent, TenantSecret
from tenants.selectors import tenant_secret_values

pytestmark = pytest.mark.django_db


def test_admins_set_list_and_delete_secrets_and_never_see_values(tenant, key_client):
    client = key_client(tenant, "admin")
    response = client.post(
        "/api/v1/secrets",
        {"name": "crm_token", "value": "tok-123-secret", "description": "CRM"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert "tok-123-secret" not in response.content.decode()
    assert response.json()["name"] == "crm_token"
    listed = client.get("/api/v1/secrets")
    assert listed.status_code == 200
    assert [s["name"] for s in listed.json()["secrets"]] == ["crm_token"]
    assert "tok-123-secret" not in listed.content.decode()
    assert tenant_secret_values(tenant_id=tenant.pk, names=["crm_token"]) == {
        "crm_token": "tok-123-secret"
    }
    assert "tok-123-secret" not in TenantSecret.objects.get().encrypted_value
    assert client.delete("/api/v1/secrets/crm_token").status_code == 204
    assert client.delete("/api/v1/secrets/crm_token").status_code == 404
    actions = set(AuditEvent.objects.filter(tenant=tenant).values_list("action", flat=True))
    assert {"secret.created", "secret.deleted"} <= actions


def test_bad_input_is_field_level_and_other_roles_are_refused(tenant, key_client):
    admin = key_client(tenant, "admin")
    response = admin.post("/api/v1/secrets", {"name": "bad name", "value": "x"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["error"]["fields"]
    response = admin.post("/api/v1/secrets", {"name": "ok", "value": "a\nb"}, format="json")
    assert response.status_code == 400
    for role in ("developer", "viewer"):
        client = key_client(tenant, role)
        assert client.get("/api/v1/secrets").status_code == 403
        response = client.post("/api/v1/secrets", {"name": "x", "value": "y"}, format="json")
        assert response.status_code == 403


def test_the_admin_stores_the_value_write_only(tenant, member_factory, client):
    user = member_factory(tenant, "admin")
    client.force_login(user)
    response = client.post(
        "/admin/tenants/tenantsecret/add/",
        {"tenant": tenant.pk, "name": "mcp_key", "description": "", "value": "mcp-secret-v"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    secret = TenantSecret.objects.get(name="mcp_key")
    page = client.get(f"/admin/tenants/tenantsecret/{secret.pk}/change/")
    assert page.status_code == 200
    assert "mcp-secret-v" not in page.content.decode()
    assert AuditEvent.objects.filter(action="secret.created", target="mcp_key").exists()
    developer = member_factory(tenant, "developer")
    client.force_login(developer)
    assert client.get("/admin/tenants/tenantsecret/").status_code == 403


def test_a_name_never_keeps_a_line_break(tenant, key_client):
    client = key_client(tenant, "admin")
    response = client.post("/api/v1/secrets", {"name": "abc\n", "value": "x"}, format="json")
    assert response.status_code == 201  # surrounding whitespace is trimmed
    assert list(TenantSecret.objects.values_list("name", flat=True)) == ["abc"]
    response = client.post("/api/v1/secrets", {"name": "a\nb", "value": "x"}, format="json")
    assert response.status_code == 400
    from tenants.services import tenant_secret_set

    with pytest.raises(ValidationError):
        tenant_secret_set(tenant=tenant, name="abc\n", value="x")
