"""The README's telephony examples run verbatim (bash + curl) against a live test server."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from sessions_app.telephony.models import Campaign, PhoneCall, PhoneNumber
from tenants.services import api_key_create

README = Path(__file__).resolve().parents[2] / "README.md"


def telephony_examples() -> str:
    text = README.read_text()
    section = text.split("\n## Telephony\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


@pytest.mark.django_db(transaction=True)
def test_readme_telephony_examples_run_verbatim(published_agent, live_server, livekit_server):
    key = api_key_create(tenant=published_agent.tenant, name="readme", role="admin").raw_key
    env = {**os.environ, "BASE": f"{live_server.url}/api/v1", "API_KEY": key}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", telephony_examples()],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert '"error"' not in result.stdout, result.stdout
    phone = PhoneNumber.objects.get(number="+14155550100")
    assert phone.livekit_dispatch_rule_id in livekit_server.state.dispatch_rules
    call = PhoneCall.objects.get(to_number="+33612345678")
    assert call.call_status == "answered"
    assert [r.sip_call_to for r in livekit_server.state.sip_participants] == ["+33612345678"]
    campaign = Campaign.objects.get(name="renewals")
    assert campaign.status == "cancelled" and campaign.recipients.count() == 3
    assert '"status":"cancelled"' in result.stdout
