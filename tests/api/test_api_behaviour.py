"""API behaviour: the seed's calls, ETags, rate limits, diffs, errors, import/export, usage."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from agents_config.events import agent_config_changed
from agents_config.factories import agent_document, make_agent
from agents_config.models import Agent
from sessions_app.factories import SessionFactory
from tenants.models import AuditEvent, Tenant

SEED_AGENT = "interview-agent-v1"
SEED_FIELD_BODY = {
    "field_name": "pronunciation_score",
    "field_type": "int",
    "description": "Pronunciation accuracy score (0-100)",
    "required": False,
    "default": 0,
    "constraints": {"ge": 0, "le": 100},
    "metadata": {"use_in_tts": False, "hidden": False},
}


@pytest.fixture
def admin_api(tenant, key_client):
    return key_client(tenant, "admin")


@pytest.fixture
def seed_agent(tenant):
    return make_agent(tenant=tenant, agent_id=SEED_AGENT)


def field_names(client, agent_id: str) -> list[str]:
    document = client.get(f"/api/v1/agents/config/{agent_id}").json()
    return [f["field_name"] for f in document["schema_config"]["fields"]]


# --- the seed's example calls, verbatim ------------------------------------------------------


def test_seed_create_response(admin_api):
    response = admin_api.post("/api/v1/agents/config", agent_document(agent_id=SEED_AGENT))
    assert response.status_code == 201
    body = response.json()
    agent = Agent.objects.get(agent_id=SEED_AGENT)
    assert body["config_id"] == str(agent.pk)
    assert body["agent_id"] == SEED_AGENT
    assert response["ETag"] == f'"{agent.pk}-{agent.revision}"'
    again = admin_api.post("/api/v1/agents/config", agent_document(agent_id=SEED_AGENT))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"


def test_seed_add_and_remove_field(admin_api, seed_agent):
    response = admin_api.post(
        f"/api/v1/agents/config/{SEED_AGENT}/schema/fields", SEED_FIELD_BODY, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "field_added"
    assert response.json()["field_name"] == "pronunciation_score"
    assert field_names(admin_api, SEED_AGENT)[-1] == "pronunciation_score"
    duplicate = admin_api.post(
        f"/api/v1/agents/config/{SEED_AGENT}/schema/fields", SEED_FIELD_BODY, format="json"
    )
    assert duplicate.status_code == 409

    response = admin_api.delete(
        f"/api/v1/agents/config/{SEED_AGENT}/schema/fields/pronunciation_score"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "field_removed"
    assert response.json()["field_name"] == "pronunciation_score"
    assert "pronunciation_score" not in field_names(admin_api, SEED_AGENT)
    missing = admin_api.delete(
        f"/api/v1/agents/config/{SEED_AGENT}/schema/fields/pronunciation_score"
    )
    assert missing.status_code == 404
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"agent.schema_field_added", "agent.schema_field_removed"} <= actions


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("True", True), ("False", False), ("true", True), ("false", False), ("1", True), ("0", False)],
)
def test_seed_tracing_toggle(
    admin_api, seed_agent, raw, expected, django_capture_on_commit_callbacks
):
    events: list[str] = []

    def receiver(sender, **kwargs):
        events.append(kwargs["action"])

    agent_config_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_api.post(
                f"/api/v1/agents/config/{SEED_AGENT}/tracing/toggle?enabled={raw}"
            )
    finally:
        agent_config_changed.disconnect(receiver)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "tracing_updated",
        "agent_id": SEED_AGENT,
        "revision": 2,
        "enabled": expected,
        "warnings": [],
    }
    document = admin_api.get(f"/api/v1/agents/config/{SEED_AGENT}").json()
    assert document["tracing_config"]["enabled"] is expected
    assert "tracing_toggled" in events
    assert AuditEvent.objects.filter(action="agent.tracing_toggled").exists()


@pytest.mark.parametrize("query", ["", "?enabled=maybe", "?enabled=true&extra=1"])
def test_tracing_toggle_needs_a_boolean(admin_api, seed_agent, query):
    response = admin_api.post(f"/api/v1/agents/config/{SEED_AGENT}/tracing/toggle{query}")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]


# --- GET / PUT ------------------------------------------------------------------------------


def test_get_draft_and_published_version(admin_api, seed_agent):
    draft = admin_api.get(f"/api/v1/agents/config/{SEED_AGENT}").json()
    assert draft["published_version"] is None
    assert draft["config_id"] == str(seed_agent.pk)
    admin_api.post(f"/api/v1/agents/config/{SEED_AGENT}/publish", {"version": "1.0.0"})
    admin_api.put(f"/api/v1/agents/config/{SEED_AGENT}", {"name": "Changed"}, format="json")
    draft = admin_api.get(f"/api/v1/agents/config/{SEED_AGENT}").json()
    assert (draft["published_version"], draft["name"]) == ("1.0.0", "Changed")
    published = admin_api.get(f"/api/v1/agents/config/{SEED_AGENT}?version=1.0.0").json()
    assert published["version"] == "1.0.0"
    assert published["name"] == seed_agent.name
    assert admin_api.get(f"/api/v1/agents/config/{SEED_AGENT}?version=9.9.9").status_code == 404
    assert admin_api.get(f"/api/v1/agents/config/{SEED_AGENT}?version=bad").status_code == 400


def test_put_deep_merges_and_replaces_lists(admin_api, seed_agent):
    url = f"/api/v1/agents/config/{SEED_AGENT}"
    before = admin_api.get(url).json()
    reordered = list(reversed(before["schema_config"]["fields"]))
    response = admin_api.put(
        url,
        {"llm_config": {"temperature": 0.2}, "schema_config": {"fields": reordered}},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "updated"
    after = admin_api.get(url).json()
    assert after["llm_config"]["temperature"] == 0.2
    assert after["llm_config"]["model"] == before["llm_config"]["model"]  # merged, not replaced
    assert [f["field_name"] for f in after["schema_config"]["fields"]] == [
        f["field_name"] for f in reordered
    ]
    # A fetched draft can be sent back as is.
    assert admin_api.put(url, after, format="json").status_code == 200


def test_etag_if_match(admin_api, seed_agent):
    url = f"/api/v1/agents/config/{SEED_AGENT}"
    etag = admin_api.get(url)["ETag"]
    first = admin_api.put(url, {"name": "A"}, format="json", HTTP_IF_MATCH=etag)
    assert first.status_code == 200
    assert first["ETag"] != etag
    stale = admin_api.put(url, {"name": "B"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "precondition_failed"
    assert admin_api.get(url).json()["name"] == "A"
    fresh = admin_api.put(url, {"name": "B"}, format="json", HTTP_IF_MATCH=first["ETag"])
    assert fresh.status_code == 200
    toggle = admin_api.post(f"{url}/tracing/toggle?enabled=true", HTTP_IF_MATCH=etag)
    assert toggle.status_code == 412
    assert admin_api.put(url, {"name": "C"}, format="json", HTTP_IF_MATCH="*").status_code == 200


# --- versions -------------------------------------------------------------------------------


def test_publish_versions_diff_and_rollback(admin_api, seed_agent):
    base = f"/api/v1/agents/config/{SEED_AGENT}"
    published = admin_api.post(f"{base}/publish", {"version": "1.0.0", "note": "first"})
    assert published.status_code == 201
    assert published.json()["version"] == "1.0.0"
    assert admin_api.post(f"{base}/publish", {}).status_code == 409  # nothing changed
    admin_api.put(base, {"llm_config": {"temperature": 0.2}}, format="json")
    admin_api.post(f"{base}/schema/fields", SEED_FIELD_BODY, format="json")
    minor = admin_api.post(f"{base}/publish", {"bump": "minor"}).json()
    assert minor["version"] == "1.1.0"
    assert admin_api.post(f"{base}/publish", {"version": "1.0.5"}).status_code == 409

    versions = admin_api.get(f"{base}/versions").json()
    assert [v["version"] for v in versions["versions"]] == ["1.1.0", "1.0.0"]
    assert versions["published_version"] == "1.1.0"
    detail = admin_api.get(f"{base}/versions/1.0.0").json()
    assert detail["document"]["version"] == "1.0.0"
    assert detail["note"] == "first"

    diff = admin_api.get(f"{base}/versions/1.0.0/diff/1.1.0").json()
    assert (diff["from_version"], diff["to_version"]) == ("1.0.0", "1.1.0")
    changes = {c["path"]: c for c in diff["changes"]}
    assert changes["llm_config.temperature"] == {
        "path": "llm_config.temperature",
        "change": "changed",
        "old": 0.7,
        "new": 0.2,
    }
    added = changes["schema_config.fields.pronunciation_score"]
    assert added["change"] == "added"
    assert added["new"]["field_type"] == "int"
    assert admin_api.get(f"{base}/versions/1.0.0/diff/7.0.0").status_code == 404

    # The draft as a diff target: nothing yet, then the unpublished change.
    to_draft = admin_api.get(f"{base}/versions/1.1.0/diff/draft").json()
    assert (to_draft["from_version"], to_draft["to_version"]) == ("1.1.0", "draft")
    assert to_draft["changes"] == []
    admin_api.put(base, {"llm_config": {"temperature": 0.4}}, format="json")
    to_draft = admin_api.get(f"{base}/versions/1.1.0/diff/draft").json()
    assert [(c["path"], c["old"], c["new"]) for c in to_draft["changes"]] == [
        ("llm_config.temperature", 0.2, 0.4)
    ]
    assert admin_api.get(f"{base}/versions/draft/diff/1.1.0").status_code == 404
    admin_api.put(base, {"llm_config": {"temperature": 0.2}}, format="json")

    rollback = admin_api.post(f"{base}/rollback", {"version": "1.0.0"})
    assert rollback.status_code == 201
    assert rollback.json()["version"] == "1.1.1"
    assert rollback.json()["rolled_back_from"] == "1.0.0"
    draft = admin_api.get(base).json()
    assert draft["llm_config"]["temperature"] == 0.7
    missing = admin_api.post(f"{base}/rollback", {"version": "4.0.0"})
    assert missing.status_code == 400
    assert "version" in missing.json()["error"]["fields"]


# --- errors ---------------------------------------------------------------------------------


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["code"] == code
    return error


def test_validation_errors_name_the_field_path(admin_api, seed_agent):
    url = f"/api/v1/agents/config/{SEED_AGENT}"
    fields = admin_api.get(url).json()["schema_config"]["fields"]
    fields[2]["field_type"] = "not a type ["
    error = assert_error(
        admin_api.put(url, {"schema_config": {"fields": fields}}, format="json"),
        400,
        "validation_error",
    )
    assert "schema_config.fields[2].field_type" in error["fields"]

    error = assert_error(
        admin_api.put(url, {"llm_config": {"temprature": 1}}, format="json"),
        400,
        "validation_error",
    )
    assert error["fields"] == {"llm_config.temprature": ["Unknown key."]}
    error = assert_error(
        admin_api.post("/api/v1/agents/config", {"agent_id": "x", "bogus": 1}, format="json"),
        400,
        "validation_error",
    )
    assert error["fields"]["bogus"] == ["Unknown key."]
    error = assert_error(
        admin_api.post(f"{url}/publish", {"bump": "huge", "extra": 1}, format="json"),
        400,
        "validation_error",
    )
    assert set(error["fields"]) == {"extra"}
    assert_error(admin_api.put(url, [1, 2], format="json"), 400, "validation_error")
    assert_error(
        admin_api.put(url, {"agent_id": "renamed"}, format="json"), 400, "validation_error"
    )


def test_malformed_json_and_wrong_content_type(admin_api, seed_agent):
    url = f"/api/v1/agents/config/{SEED_AGENT}"
    assert_error(
        admin_api.put(url, "{not json", content_type="application/json"), 400, "parse_error"
    )
    assert_error(
        admin_api.put(url, '{"name": NaN}', content_type="application/json"), 400, "parse_error"
    )
    assert_error(
        admin_api.put(url, '{"name": "a\\u0000b"}', content_type="application/json"),
        400,
        "parse_error",
    )
    assert_error(
        admin_api.put(url, "name=x", content_type="text/plain"), 415, "unsupported_media_type"
    )
    assert_error(admin_api.get(f"{url}?version=%00"), 400, "parse_error")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10_000)
def test_huge_body_is_413(admin_api, seed_agent):
    body = json.dumps({"name": "x" * 20_000})
    response = admin_api.put(
        f"/api/v1/agents/config/{SEED_AGENT}", body, content_type="application/json"
    )
    assert_error(response, 413, "payload_too_large")


def test_huge_body_default_limit(admin_api):
    body = json.dumps({"agent_id": "big", "name": "x" * (1024 * 1024 + 10)})
    response = admin_api.post("/api/v1/agents/config", body, content_type="application/json")
    assert_error(response, 413, "payload_too_large")


def test_method_not_allowed_has_error_shape(admin_api, seed_agent):
    assert_error(admin_api.patch(f"/api/v1/agents/config/{SEED_AGENT}"), 405, "method_not_allowed")


# --- rate limits ----------------------------------------------------------------------------


def test_rate_limit_per_tenant(tenant, other_tenant, key_client, seed_agent):
    Tenant.objects.filter(pk=tenant.pk).update(api_requests_per_minute=3)
    client = key_client(tenant, "viewer")
    for _ in range(3):
        assert client.get("/api/v1/tenants/me").status_code == 200
    response = client.get(f"/api/v1/agents/config/{SEED_AGENT}")
    error = assert_error(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert error["message"]
    # Counted per tenant, not per key; other tenants are unaffected.
    assert key_client(tenant, "admin").get("/api/v1/tenants/me").status_code == 429
    assert key_client(other_tenant, "viewer").get("/api/v1/tenants/me").status_code == 200


# --- delete, import / export, tenant ---------------------------------------------------------


def test_delete_refused_with_active_sessions(admin_api, seed_agent):
    url = f"/api/v1/agents/config/{SEED_AGENT}"
    session = SessionFactory(agent=seed_agent, status="active")
    assert_error(admin_api.delete(url), 409, "conflict")
    session.status = "ended"
    session.save()
    response = admin_api.delete(url)
    assert response.status_code == 200
    assert response.json() == {"status": "deleted", "agent_id": SEED_AGENT}
    assert admin_api.get(url).status_code == 404
    assert AuditEvent.objects.filter(action="agent.deleted").exists()


def test_export_import_round_trip(tenant, other_tenant, key_client, seed_agent):
    source = key_client(tenant, "admin")
    source.post(f"/api/v1/agents/config/{SEED_AGENT}/publish", {"version": "1.2.0"})
    exported = source.get(f"/api/v1/agents/config/{SEED_AGENT}/export").json()
    target = key_client(other_tenant, "admin")
    created = target.post("/api/v1/agents/import?publish=true", exported, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["published_version"] == "1.2.0"
    again = target.get(f"/api/v1/agents/config/{SEED_AGENT}/export").json()
    strip = {"tenant_config"}
    assert {k: v for k, v in again.items() if k not in strip} == {
        k: v for k, v in exported.items() if k not in strip
    }
    assert_error(target.post("/api/v1/agents/import", exported, format="json"), 409, "conflict")
    replaced = target.post(
        "/api/v1/agents/import?replace=true", {**exported, "name": "New"}, format="json"
    )
    assert replaced.status_code == 200
    assert replaced.json()["status"] == "replaced"
    version = source.get(f"/api/v1/agents/config/{SEED_AGENT}/export?version=1.2.0").json()
    assert version["version"] == "1.2.0"


def test_tenant_me(tenant, key_client, seed_agent):
    Tenant.objects.filter(pk=tenant.pk).update(
        max_concurrent_sessions=5, api_requests_per_minute=90
    )
    SessionFactory(agent=seed_agent, status="active")
    SessionFactory(agent=seed_agent, status="ended")
    body = key_client(tenant, "developer").get("/api/v1/tenants/me").json()
    assert body["tenant"]["slug"] == tenant.slug
    assert (body["role"], body["auth"]) == ("developer", "api_key")
    assert body["quotas"]["max_concurrent_sessions"] == 5
    assert body["quotas"]["max_sessions_per_month"] is None
    assert body["rate_limits"] == {"api_requests_per_minute": 90}
    assert body["usage"] == {"open_sessions": 1, "sessions_this_month": 2}


def test_list_filters_and_pagination(tenant, key_client):
    for index in range(3):
        make_agent(
            tenant=tenant, agent_id=f"sales-{index}", agent_type="sales", name=f"Sales {index}"
        )
    make_agent(tenant=tenant, agent_id="support", agent_type="support", enabled=False, name="Help")
    client = key_client(tenant, "viewer")

    def ids(query: str) -> list[str]:
        response = client.get(f"/api/v1/agents/list{query}")
        assert response.status_code == 200, response.content
        return [a["agent_id"] for a in response.json()["agents"]]

    assert ids("") == ["sales-0", "sales-1", "sales-2", "support"]
    assert ids("?agent_type=support") == ["support"]
    assert ids("?enabled=false") == ["support"]
    assert ids("?search=sales 1") == ["sales-1"]
    page = client.get("/api/v1/agents/list?page_size=2&page=2").json()
    assert page["count"] == 4
    assert [a["agent_id"] for a in page["agents"]] == ["sales-2", "support"]
    assert client.get("/api/v1/agents/list?page_size=1000").status_code == 400
    assert client.get("/api/v1/agents/list?page=9").status_code == 404


def test_unknown_api_path_is_json_404(admin_api):
    assert_error(admin_api.get("/api/v1/agents/nope/at/all"), 404, "not_found")
