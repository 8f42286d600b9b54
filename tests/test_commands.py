"""Operator commands: demo agent, export/import, tenants and API keys."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from agents_config.demo_agent import DEMO_AGENT_ID, DEMO_TENANT_SLUG
from agents_config.models import Agent, AgentVersion
from tenants.models import ApiKey, Tenant
from tenants.selectors import api_key_from_raw

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_load_demo_agent_is_idempotent():
    first = run("load_demo_agent")
    assert "Published visa-interview-officer 1.0.0" in first
    second = run("load_demo_agent")
    assert "nothing to do" in second
    assert Tenant.objects.filter(slug=DEMO_TENANT_SLUG).count() == 1
    agent = Agent.objects.get(agent_id=DEMO_AGENT_ID)
    assert AgentVersion.objects.filter(agent=agent).count() == 1
    fields = {f.field_name: f for f in agent.schema_fields.all()}
    assert fields["voice_instructions"].tts_instructions
    assert fields["system_response"].spoken and fields["system_response"].required
    assert fields["internal_assessment"].hidden
    assert fields["interview_stage"].field_type.startswith("Literal['document_check'")
    assert fields["credibility_score"].constraints == {"ge": 1, "le": 10}
    assert fields["red_flags"].field_type == "list[str]" and fields["red_flags"].default == []


def test_load_demo_agent_prints_an_admin_login():
    output = run("load_demo_agent", "--admin")
    assert "Admin login: username 'admin', password '" in output


def test_export_then_import_round_trips(tmp_path):
    run("load_demo_agent")
    path = tmp_path / "demo.json"
    call_command("export_agent", DEMO_AGENT_ID, tenant=DEMO_TENANT_SLUG, agent_version="1.0.0",
                 output=str(path), stderr=io.StringIO())  # fmt: skip
    exported = json.loads(path.read_text())
    run("create_tenant", "acme")
    assert "Imported visa-interview-officer (1.0.0)" in run(
        "import_agent", str(path), "--tenant", "acme", "--publish"
    )
    again = json.loads(run("export_agent", DEMO_AGENT_ID, "--tenant", "acme", "--agent-version",
                           "1.0.0"))  # fmt: skip
    exported.pop("tenant_config"), again.pop("tenant_config")
    assert again == exported


def test_import_reports_field_errors(tmp_path):
    run("create_tenant", "acme")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"agent_id": "x", "prompt_config": {}, "schema_config": {}}))
    with pytest.raises(CommandError) as info:
        run("import_agent", str(path), "--tenant", "acme")
    assert "prompt_config.instructions" in str(info.value)
    path.write_text("{nope")
    with pytest.raises(CommandError, match="not valid JSON"):
        run("import_agent", str(path), "--tenant", "acme")
    with pytest.raises(CommandError, match="No tenant"):
        run("import_agent", str(path), "--tenant", "missing")


def test_create_tenant_and_api_key():
    run("create_tenant", "acme", "--max-concurrent-sessions", "5")
    assert Tenant.objects.get(slug="acme").max_concurrent_sessions == 5
    with pytest.raises(CommandError, match="already exists"):
        run("create_tenant", "acme")
    with pytest.raises(CommandError, match="slug"):
        run("create_tenant", "Not A Slug")
    raw_key = run("create_api_key", "--tenant", "acme", "--role", "developer").strip()
    key = api_key_from_raw(raw_key)
    assert key is not None and key.role == "developer"
    assert ApiKey.objects.filter(key_hash__contains=raw_key).count() == 0
    with pytest.raises(CommandError):
        run("create_api_key", "--tenant", "nope", "--role", "viewer")
