"""The README's tool-expectation example (``### Tool expectations and mocked tools``) runs
verbatim (bash + curl) against a live test server and stores the case it shows."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from agents_config.test_suites.models import AgentTestCase
from tenants.services import api_key_create

README = Path(__file__).resolve().parents[2] / "README.md"


def tool_example() -> str:
    text = README.read_text()
    section = text.split("\n### Tool expectations and mocked tools\n", 1)[1].split("\n### ", 1)[0]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


@pytest.mark.django_db(transaction=True)
def test_readme_tool_case_example_runs_verbatim(agent, live_server):
    key = api_key_create(tenant=agent.tenant, name="readme", role="developer").raw_key
    env = {**os.environ, "BASE": f"{live_server.url}/api/v1", "API_KEY": key}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", tool_example()],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    case = AgentTestCase.objects.get(agent=agent, name="looks up the order")
    assert case.tool_mocks == {"lookup_order": {"result": {"status": "shipped", "eta": "Friday"}}}
    assert case.turns[0]["expect"][0]["kind"] == "tool_called"
