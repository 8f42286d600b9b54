"""Hostile input gets a 4xx, never a 500 or a stuck worker: deep JSON at every entry point,
NaN/Infinity and lone surrogates, ReDoS patterns on RE2, unknown query parameters, If-Match."""

from __future__ import annotations

import json
import time

import pytest
from django.core.management import CommandError, call_command
from django.urls import URLPattern, URLResolver, reverse
from rest_framework.test import APIClient

from agents_config.contracts import ContractError
from agents_config.forms import PrettyJSONField
from agents_config.models import Agent
from agents_config.schema import FieldSpec, SchemaDefinitionError, compile_schema
from agents_config.selectors import agent_draft_document
from agents_config.test_suites.expectations import TurnView, parse_turns
from agents_config.test_suites.services import agent_test_case_create, agent_test_run_start
from agents_config.user_regex import UserRegexError, compile_user_regex, user_regex_search
from config import api_urls
from sessions_app.factories import SessionFactory
from sessions_app.models import Session
from sessions_app.services import session_create
from sessions_app.telephony.models import Campaign, PhoneCall, PhoneNumber
from tenants.platform import json_input
from tenants.services import api_key_create
from tests.test_settings_and_health import manage

pytestmark = pytest.mark.django_db

LIMIT = json_input.JSON_MAX_DEPTH
DEEP = "[" * 10_000 + "]" * 10_000
DEEP_OBJECT = '{"a":' * 10_000 + "1" + "}" * 10_000
WRITE_METHODS = ("post", "put", "patch")
PATH_VALUES = {"version": "1.0.0", "a": "1.0.0", "b": "1.0.0"}


@pytest.fixture
def api(tenant) -> APIClient:
    issued = api_key_create(tenant=tenant, name="admin key", role="admin")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw_key}")
    return client


@pytest.fixture
def objects(published_agent):
    """Something behind every path parameter, so each endpoint gets as far as the body."""
    agent_test_case_create(agent=published_agent, name="hello", turns=[{"user": "hi"}])
    run = agent_test_run_start(agent=published_agent, enqueue=False)
    session = SessionFactory(agent=published_agent)
    field = published_agent.schema_fields.order_by("position").last()
    number = PhoneNumber.objects.create(
        tenant=published_agent.tenant, number="+442079460000", agent=published_agent
    )
    campaign = Campaign.objects.create(
        tenant=published_agent.tenant, name="calls", agent=published_agent
    )
    PhoneCall.objects.create(
        session=session, tenant=published_agent.tenant, direction="outbound",
        from_number=number.number, to_number="+442079460001", call_status="answered",
    )  # fmt: skip
    return {
        "number_id": number.pk,
        "campaign_id": campaign.pk,
        "action": "pause",
        "agent_id": published_agent.agent_id,
        "field_name": field.field_name,
        "run_id": run.pk,
        "session_id": session.id,
        **PATH_VALUES,
    }


def api_endpoints(patterns=None, prefix: str = "/api/v1/"):
    """(route, view class) for every API route in the URL conf."""
    for entry in api_urls.urlpatterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from api_endpoints(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern) and hasattr(entry.callback, "view_class"):
            yield entry.name, entry.callback.view_class


def url_for(name: str, objects: dict) -> str:
    from django.urls import get_resolver

    route = get_resolver("config.api_urls").reverse_dict.getlist(name)[0][0][0][1]
    return reverse(name, kwargs={key: objects[key] for key in route})


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"} and error["code"] == code, error
    return error


def _sent_json(client: APIClient, method: str, url: str, body: str, **extra):
    return client.generic(method.upper(), url, body, content_type="application/json", **extra)


# --- deep JSON --------------------------------------------------------------------------------


def test_deep_json_is_refused_quickly_on_every_write_endpoint(api, objects):
    reads_body = {
        name: view
        for name, view in api_endpoints()
        if any(hasattr(view, method) for method in WRITE_METHODS)
    }
    assert len(reads_body) >= 10  # the iteration found the write endpoints
    no_body = {  # request=None
        ("post", "api-session-end"),
        ("post", "api-agent-tracing"),
        ("post", "api-campaign-control"),
    }
    checked = []
    for name, view in reads_body.items():
        url = url_for(name, objects)
        for method in WRITE_METHODS:
            if not hasattr(view, method):
                continue
            for body in (DEEP, DEEP_OBJECT):
                started = time.perf_counter()
                response = _sent_json(api, method, url, body)
                elapsed = time.perf_counter() - started
                assert response.status_code < 500, (method, url, response.content[:300])
                assert elapsed < 2, (method, url, elapsed)
                if (method, name) not in no_body:
                    error = response.json()["error"]
                    assert error["code"] == "parse_error"
                    assert f"{LIMIT} levels" in error["message"], (method, url, error)
                    assert error["fields"] == {"": [json_input.DEPTH_MESSAGE]}
                    checked.append((method, name))
    # Every endpoint that takes a body refused it; the ones without a body never read it.
    expected = {
        (method, name)
        for name, view in reads_body.items()
        for method in WRITE_METHODS
        if hasattr(view, method) and (method, name) not in no_body
    }
    assert set(checked) == expected
    assert Agent.objects.count() == 1 and Session.objects.count() == 1  # nothing stored


def test_the_depth_limit_is_exactly_the_constant():
    assert json_input.loads("[" * LIMIT + "]" * LIMIT)
    with pytest.raises(json_input.UnsafeJSON):
        json_input.loads("[" * (LIMIT + 1) + "]" * (LIMIT + 1))
    nested: list = []
    for _ in range(LIMIT + 5):  # built in Python, checked without recursion
        nested = [nested]
    with pytest.raises(json_input.UnsafeJSON):
        json_input.check_value(nested)
    assert json_input.loads('"[[[[[[ not brackets \\" [[["') == '[[[[[[ not brackets " [[['


def test_admin_import_page_refuses_deep_json(admin_client, tenant):
    url = reverse("admin:agents_config_agent_import")
    for text in (DEEP, DEEP_OBJECT):
        response = admin_client.post(url, {"tenant": tenant.pk, "document_text": text})
        assert response.status_code == 200
        assert f"{LIMIT} levels" in response.content.decode()
    response = admin_client.post(url, {"tenant": tenant.pk, "document_text": '{"a": NaN}'})
    assert "finite" in response.content.decode()
    assert not Agent.objects.exists()


def test_admin_json_fields_refuse_deep_json():
    field = PrettyJSONField(required=False)
    with pytest.raises(Exception) as exc:
        field.clean(DEEP)
    assert f"{LIMIT} levels" in str(exc.value)
    assert field.bound_data(DEEP, None) == DEEP  # redisplayed as typed, not parsed
    with pytest.raises(Exception, match="finite"):
        field.clean('{"a": 1e999}')


def test_import_agent_command_refuses_deep_json(tmp_path, tenant):
    path = tmp_path / "deep.json"
    path.write_text(DEEP_OBJECT)
    with pytest.raises(CommandError, match=f"{LIMIT} levels"):
        call_command("import_agent", str(path), "--tenant", tenant.slug)
    path.write_text('{"agent_id": "x", "name": "\\udfff"}')
    with pytest.raises(CommandError, match="surrogate"):
        call_command("import_agent", str(path), "--tenant", tenant.slug)


# --- user_details, prompt variables: NaN, Infinity, surrogates --------------------------------


@pytest.mark.parametrize(
    ("user_details", "path", "fragment"),
    [
        ('{"a": ' * 300 + "1" + "}" * 300, "", f"{LIMIT} levels"),
        ('{"score": NaN}', "user_details.score", "finite"),
        ('{"score": [1, 1e999]}', "user_details.score[1]", "finite"),
        ('{"score": -Infinity}', "user_details.score", "finite"),
        ('{"\\udfff": "x"}', "user_details.\ufffd", "surrogate"),
        ('{"name": "Ana \\ud800"}', "user_details.name", "surrogate"),
    ],
)
def test_user_details_hostile_values_are_field_level_400s(
    api, published_agent, user_details, path, fragment
):
    body = f'{{"agent_id": "{published_agent.agent_id}", "user_id": "u1", '
    body += f'"user_details": {user_details}}}'
    error = assert_error(_sent_json(api, "post", "/api/v1/sessions", body), 400, "parse_error")
    assert path in error["fields"], error
    assert fragment in " ".join(error["fields"][path])
    assert not Session.objects.exists()


def test_session_service_applies_the_same_limits(tenant, published_agent):
    deep: dict = {}
    for _ in range(LIMIT + 1):
        deep = {"a": deep}
    for details, path in (({"x": float("nan")}, "user_details.x"), (deep, "user_details.a")):
        with pytest.raises(ContractError) as exc:
            session_create(tenant=tenant, agent=published_agent, user_id="u", user_details=details)
        assert any(p.startswith(path) for p in exc.value.errors), exc.value.errors
    with pytest.raises(ContractError) as exc:
        session_create(
            tenant=tenant,
            agent=published_agent,
            user_id="u",
            overrides={"prompt_config": {"dynamic_vars": {"x": float("inf")}}},
        )
    assert "overrides.prompt_config.dynamic_vars.x" in exc.value.errors


def test_prompt_variable_default_nan_is_a_field_level_400(api, agent):
    document = agent_draft_document(agent)
    text = json.dumps(document).replace(
        '"dynamic_vars": {', '"dynamic_vars": {"bad_default": NaN, ', 1
    )
    assert "NaN" in text
    url = f"/api/v1/agents/config/{agent.agent_id}"
    error = assert_error(_sent_json(api, "put", url, text), 400, "parse_error")
    assert "prompt_config.dynamic_vars.bad_default" in error["fields"], error
    # Through the contracts too (admin forms, import, services): a field path, not a 500.
    from agents_config.contracts import parse_document

    document["prompt_config"]["dynamic_vars"]["bad_default"] = float("nan")
    with pytest.raises(ContractError) as exc:
        parse_document(document)
    assert "prompt_config.dynamic_vars.bad_default" in exc.value.errors


# --- regular expressions on RE2 ---------------------------------------------------------------

REDOS = ["(a|a)*b", "((a+))+b", "(a*)*b", "(a+)+$", "(x+x+)+y", "(.*a){20}b"]


@pytest.mark.parametrize("pattern", REDOS)
def test_redos_patterns_run_in_milliseconds(pattern):
    expectation = {"kind": "matches", "field": "x", "pattern": pattern}
    (turn,) = parse_turns([{"user": "hi", "expect": [expectation]}])
    view = TurnView(data={"x": "a" * 9_000 + "!"}, spoken_text="")
    started = time.perf_counter()
    outcome = turn.expect[0].evaluate(view)
    assert time.perf_counter() - started < 0.05
    assert outcome.passed is False
    compiled = compile_schema(
        [
            FieldSpec("reply", "str", spoken=True),
            FieldSpec("code", "str", required=False, constraints={"pattern": pattern}),
        ]
    )
    started = time.perf_counter()
    result = compiled.validate_output({"reply": "x", "code": "a" * 9_000 + "!"})
    assert time.perf_counter() - started < 0.05
    assert any("code: String should match pattern" in e for e in result.errors), result.errors


def test_one_engine_with_caps_and_clear_messages():
    assert user_regex_search(r"^\d+$", "123")
    assert not user_regex_search("b", "a" * 20_000 + "b")  # only the first 10,000 characters
    for pattern, fragment in [
        (r"(?=a)b", "look-around"),
        (r"(?<!a)b", "look-around"),
        (r"(a)\1", "backreferences"),
        (r"(?P<n>a)(?P=n)", "backreferences"),
        ("(?:a{1000}){1000}", "size limit"),
        ("a" * 501, "at most 500"),
        ("(", "invalid regular expression"),
    ]:
        with pytest.raises(UserRegexError, match=fragment.replace("(", r"\(")):
            compile_user_regex(pattern)
    long_value = compile_schema(
        [
            FieldSpec("reply", "str", spoken=True),
            FieldSpec("code", "str", required=False, constraints={"pattern": "a"}),
        ]
    ).validate_output({"reply": "x", "code": "a" * 10_001})
    assert any("longer than 10000" in e for e in long_value.errors)
    with pytest.raises(SchemaDefinitionError):
        compile_schema([FieldSpec("reply", "str", spoken=True, constraints={"pattern": "(?=x)"})])


def test_schema_pattern_with_look_around_is_a_field_level_400(api, agent):
    url = f"/api/v1/agents/config/{agent.agent_id}/schema/fields"
    body = {
        "field_name": "code",
        "field_type": "str",
        "required": False,
        "constraints": {"pattern": r"^(?=A)\w+$"},
    }
    error = assert_error(api.post(url, body, format="json"), 400, "validation_error")
    paths = [p for p in error["fields"] if p.endswith("constraints.pattern")]
    assert paths, error
    assert "look-around" in " ".join(error["fields"][paths[0]])


# --- query parameters, If-Match, settings -----------------------------------------------------


def test_unknown_query_parameters_are_400_on_every_get(api, objects):
    names = [name for name, view in api_endpoints() if hasattr(view, "get")]
    for expected in ("api-agent-versions", "api-agent-version", "api-agent-version-diff",
                     "api-agent-tests-cases", "api-tenant-me"):  # fmt: skip
        assert expected in names
    for name in names:
        url = url_for(name, objects)
        error = assert_error(api.get(url, {"bogus": "1"}), 400, "validation_error")
        assert error["fields"] == {"bogus": ["Unknown key."]}, (url, error)
    cases = url_for("api-agent-tests-cases", objects)
    assert api.get(cases, {"page": "1", "page_size": "5"}).status_code == 200


@pytest.mark.parametrize("header", ["", " ", "abc", '"unterminated', 'W/"1-1", nope'])
def test_empty_or_malformed_if_match_is_400(api, agent, header):
    url = f"/api/v1/agents/config/{agent.agent_id}"
    body = agent_draft_document(agent)
    response = api.put(url, body, format="json", HTTP_IF_MATCH=header)
    error = assert_error(response, 400, "validation_error")
    assert "If-Match" in error["fields"]
    stale = api.put(url, body, format="json", HTTP_IF_MATCH=f'"{agent.pk}-999"')
    assert_error(stale, 412, "precondition_failed")
    fresh = api.get(url)["ETag"]
    assert api.put(url, body, format="json", HTTP_IF_MATCH=fresh).status_code == 200


def test_openapi_declares_strict_inputs_and_if_match(client):
    schema = client.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    session_input = components["SessionCreateInput"]
    assert session_input["additionalProperties"] is False
    assert session_input["properties"]["user_id"]["minLength"] == 1
    put = schema["paths"]["/api/v1/agents/config/{agent_id}"]["put"]
    if_match = next(p for p in put["parameters"] if p["name"] == "If-Match")
    assert if_match["in"] == "header" and "pattern" in if_match["schema"]
    assert {"400", "412"} <= set(put["responses"])


@pytest.mark.parametrize(("debug", "expected"), [("1", "0"), ("0", "60")])
def test_conn_max_age_defaults_to_zero_in_debug(debug, expected):
    env = {
        "DEBUG": debug,
        "SECRET_KEY": "x" * 60,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "DATABASE_POOL": "0",  # with the web pool on, the pool keeps the connections instead
    }
    code = "from django.conf import settings; print(settings.DATABASES['default']['CONN_MAX_AGE'])"
    result = manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected
