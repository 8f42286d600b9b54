"""``manage.py test_agent``: the report, the progress bar and the exit code."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from agents_config.services import agent_publish
from agents_config.test_suites.services import agent_test_case_create
from tests.suites.conftest import by_prompt
from tests.worker.conftest import demo_turn

pytestmark = pytest.mark.django_db


@pytest.fixture
def cases(suite_agent, fake_openai):
    fake_openai.script = by_prompt(
        {"Hello": demo_turn("Passport, please.", interview_stage="document_check")}
    )
    agent_test_case_create(
        agent=suite_agent,
        name="asks for passport",
        turns=[{"user": "Hello", "expect": [{"kind": "spoken_contains", "value": "passport"}]}],
    )
    agent_test_case_create(
        agent=suite_agent,
        name="asks about money",
        turns=[
            {
                "user": "Hello",
                "expect": [{"kind": "equals", "field": "interview_stage", "value": "financial"}],
            }
        ],
    )
    return suite_agent


def _run_cli(*argv: str) -> tuple[int, str, str]:
    """Through ``run_from_argv`` as from a shell (it closes the DB connection: call it last)."""
    from agents_config.management.commands.test_agent import Command

    out, err = io.StringIO(), io.StringIO()
    command = Command(stdout=out, stderr=err)
    try:
        command.run_from_argv(["manage.py", "test_agent", *argv])
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_failing_suite_exits_non_zero_with_report(cases):
    code, out, err = _run_cli(cases.agent_id, "--tenant", cases.tenant.slug)
    assert code == 1
    assert "[..............................] 0/2" in out
    assert "] 2/2" in out and "\x1b" not in out and "\r" not in out
    assert "PASSED  asks for passport" in out
    assert "FAILED  asks about money" in out
    assert "- interview_stage == 'financial': interview_stage is 'document_check'" in out
    assert "2 case(s): 1 passed, 1 failed, 0 error(s)" in out
    assert "failed" in err


def test_passing_case_exits_zero(cases):
    code, out, _ = _run_cli(cases.agent_id, "--case", "asks for passport", "--draft")
    assert code == 0
    assert "] 1/1 PASSED asks for passport" in out
    assert "passed." in out


def test_version_and_unknowns(cases):
    from django.core.management.base import CommandError

    agent_publish(agent=cases, version="1.0.0")
    out = io.StringIO()
    call_command(
        "test_agent",
        cases.agent_id,
        "--version",
        "1.0.0",
        "--case",
        "asks for passport",
        stdout=out,
    )
    assert "@1.0.0" in out.getvalue()
    with pytest.raises(CommandError, match="no version") as exc:
        call_command("test_agent", cases.agent_id, "--version", "7.0.0", stdout=io.StringIO())
    assert exc.value.returncode == 1
    with pytest.raises(CommandError, match="No agent"):
        call_command("test_agent", "no-such-agent", stdout=io.StringIO())
