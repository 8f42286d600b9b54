"""The first hour, as a new user lives it: a fresh clone, the README's first command, then the
admin (login, a provider key, a webhook, a test run) and the README's API walkthrough run
verbatim against the running quick start (SQLite, Celery eager inside the request thread).

The walkthrough's commands are read from README.md (the fenced ``sh`` blocks of the REST API's
``### Examples``), so the README cannot drift from what works.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from agents_config.contracts import parse_document
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.suites.conftest import by_prompt
from tests.worker.conftest import demo_turn

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
VENDOR = Path("sessions_app/static/playground/vendor/livekit-client.umd.js")
# What the test settings and the CI put into this process's environment: a new user's
# terminal has none of it.
NOT_INHERITED = {
    "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG",
    "SECURE_SSL_REDIRECT", "SECRETS_ENCRYPTION_KEY", "TEST_CACHE_REDIS_DB", "PORT",
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "CELERY_TASK_DEFAULT_QUEUE", "VIRTUAL_ENV",
}  # fmt: skip


def walkthrough_script(readme: str) -> str:
    """The fenced ``sh`` blocks of ``### Examples`` under ``## REST API``, in order."""
    api = readme[readme.index("\n## REST API\n") :]
    start = api.index("\n### Examples\n")
    section = api[start + 1 :]
    end = re.search(r"\n#{2,3} ", section)
    section = section[: end.start()] if end else section
    blocks = re.findall(r"^```sh\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)
    assert blocks, "no sh blocks in the walkthrough"
    return "\n".join(blocks)


def test_walkthrough_is_found_and_every_call_fails_loudly():
    script = walkthrough_script(README.read_text())
    assert "create_api_key --tenant demo --role admin" in script
    curls = [line for line in script.splitlines() if line.lstrip().startswith("curl ")]
    assert len(curls) >= 15
    assert all(line.lstrip().startswith("curl -sf") for line in curls), curls


def test_the_example_document_is_valid():
    document = parse_document(json.loads((ROOT / "docs" / "agent.json").read_text()))
    assert document.agent_id == "interview-agent-v1"
    assert document.agent_id in walkthrough_script(README.read_text())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class QuickStart:
    clone: Path
    env: dict[str, str]
    url: str
    output: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(self.output)


def _fresh_clone(tmp_path: Path) -> Path:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=60)
    # Reuse this virtualenv (it has every requirement: the stamp tells the quick start so)
    # and the playground's npm bundle.
    (clone / ".venv").symlink_to((ROOT / ".venv").resolve())
    digest = subprocess.run(
        ["bash", "-c", "source .ci/lib.sh && requirements_digest"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (clone / "var").mkdir()
    (clone / "var" / "installed-requirements.txt.sha256").write_text(digest)
    (clone / VENDOR).parent.mkdir(parents=True, exist_ok=True)
    if (ROOT / VENDOR).is_file():
        shutil.copyfile(ROOT / VENDOR, clone / VENDOR)
    else:
        (clone / VENDOR).write_text("/* not needed here */\n")
    return clone


@pytest.fixture
def quick_start(tmp_path: Path, fake_openai_server: FakeOpenAI) -> Iterator[QuickStart]:
    clone = _fresh_clone(tmp_path)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    # The provider key comes from the admin (a tenant credential); the endpoint is the fake.
    env |= {
        "PORT": str(port),
        "OPENAI_BASE_URL": fake_openai_server.base_url,
        "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": "1",
    }
    process = subprocess.Popen(
        ["bash", ".ci/quickstart"],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    started = QuickStart(clone=clone, env=env, url=f"http://127.0.0.1:{port}")
    assert process.stdout is not None
    reader = threading.Thread(
        target=lambda: started.output.extend(iter(process.stdout.readline, "")), daemon=True
    )
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, f"the quick start exited:\n{started.text()}"
            assert time.monotonic() < deadline, f"no answer on {started.url}:\n{started.text()}"
            try:
                if httpx.get(f"{started.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield started
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@pytest.fixture
def fake_openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        server.script = by_prompt(
            {"Good morning, officer.": demo_turn("Good morning. Your passport, please.")}
        )
        yield server


def _csrf(client: httpx.Client, path: str) -> tuple[str, str]:
    page = client.get(path)
    assert page.status_code == 200, page.text[:500]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    return token.group(1), page.text


def _admin_post(client: httpx.Client, path: str, data: dict) -> httpx.Response:
    token, _ = _csrf(client, path)
    return client.post(path, data={**data, "csrfmiddlewaretoken": token})


def _option_value(page: str, label: str) -> str:
    found = re.search(rf'<option value="(\d+)"[^>]*>[^<]*{re.escape(label)}[^<]*</option>', page)
    assert found, f"no option {label!r}"
    return found.group(1)


@pytest.mark.sqlite
def test_first_hour_on_a_fresh_quick_start(quick_start: QuickStart, fake_openai_server):
    clone, base = quick_start.clone, quick_start.url
    # The quick start wrote .env (kept out of git) and printed the real URLs.
    dotenv = (clone / ".env").read_text()
    port = base.rsplit(":", 1)[1]
    for line in ("DEBUG=1", "SECRET_KEY=", "SECRETS_ENCRYPTION_KEY=", f"PORT={port}"):
        assert f"\n{line}" in dotenv, line
    ignored = subprocess.run(["git", "check-ignore", ".env"], cwd=clone, capture_output=True)
    assert ignored.returncode == 0
    assert f"{base}/admin/" in quick_start.text()
    password = re.search(r"password '([^']+)'", quick_start.text())
    assert password, quick_start.text()

    with httpx.Client(base_url=base, timeout=120) as admin:
        # Admin login.
        response = _admin_post(
            admin,
            "/admin/login/?next=/admin/",
            {"username": "admin", "password": password.group(1), "next": "/admin/"},
        )
        assert response.status_code == 302, response.text[:500]

        # A provider key for the demo tenant (encrypted with the generated key).
        _, form = _csrf(admin, "/admin/tenants/providercredential/add/")
        demo = _option_value(form, "demo")
        response = _admin_post(
            admin,
            "/admin/tenants/providercredential/add/",
            {"tenant": demo, "provider": "openai", "value": "sk-from-the-admin"},
        )
        assert response.status_code == 302, response.text[:2000]

        # A webhook endpoint: its secret is shown once, then deliveries are signed with it.
        with WebhookReceiver() as receiver:
            response = _admin_post(
                admin,
                "/admin/tenants/webhookendpoint/add/",
                {
                    "tenant": demo,
                    "url": receiver.url,
                    "events": ["agent.published"],
                    "is_active": "on",
                },
            )
            assert response.status_code == 200, response.text[:2000]
            secret = re.search(r'<code id="webhook-secret"[^>]*>([^<]+)</code>', response.text)
            assert secret, response.text[:2000]
            receiver.state.secret = secret.group(1)

            # The README's API walkthrough, verbatim (it also publishes: a signed delivery).
            # Its manage.py calls run as in a second terminal: no DEBUG or SECRET_KEY in their
            # environment, only what .env says.
            script = walkthrough_script(README.read_text())
            key_file = clone / "walkthrough-key"
            walkthrough = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", f'{script}\nprintf %s "$API_KEY" > {key_file}'],
                cwd=clone,
                env=quick_start.env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert walkthrough.returncode == 0, walkthrough.stdout + walkthrough.stderr
            assert "Traceback" not in walkthrough.stderr, walkthrough.stderr
            delivered = receiver.wait_for(1)
            assert delivered[0].signature_valid is True
            assert delivered[0].json()["event"] == "agent.published"
        assert '"status":"imported"' in walkthrough.stdout.replace(" ", ""), walkthrough.stdout
        exported = json.loads((clone / "exported-agent.json").read_text())
        assert exported["version"] == "1.1.1"  # 1.0.0, 1.1.0, then the rollback

        # A test case, then a run from the admin's Tests page: in-process, in the request.
        api = httpx.Client(
            base_url=f"{base}/api/v1",
            headers={"Authorization": f"Bearer {key_file.read_text()}"},
            timeout=30,
        )
        cases = "/agents/config/visa-interview-officer/tests/cases"
        case = {
            "name": "asks for the passport",
            "user_details": {"applicant_name": "Ana"},
            "turns": [
                {
                    "user": "Good morning, officer.",
                    "expect": [{"kind": "spoken_contains", "value": "passport"}, {"kind": "valid"}],
                }
            ],
        }
        assert api.post(cases, json=case).status_code == 201
        agent_page = admin.get("/admin/agents_config/agent/?q=visa-interview-officer").text
        agent_pk = re.search(r"/admin/agents_config/agent/(\d+)/change/", agent_page)
        assert agent_pk, agent_page[:2000]
        suite = f"/admin/agents_config/agenttestrun/suite/{agent_pk.group(1)}/"
        response = _admin_post(admin, suite, {"version": ""})
        assert response.status_code == 302, response.text[:2000]
        run_id = re.search(r"/agenttestrun/(\d+)/change/", response.headers["location"])
        assert run_id
        run = api.get(f"/agents/config/visa-interview-officer/tests/runs/{run_id.group(1)}")
        body = run.json()
        assert body["status"] == "passed", json.dumps(body, indent=1)[:3000]
        assert fake_openai_server.chat_requests, "the run did not reach the fake OpenAI server"
        page = admin.get(response.headers["location"]).text
        assert "passed" in page and "Plugins must be registered" not in page

        # The playground's text chat under the quick start's gunicorn (gthread) on SQLite:
        # the reply streams as Server-Sent Events, spoken text first, then the turn.
        events: list[str] = []
        with admin.stream(
            "POST",
            "/playground/visa-interview-officer/text-chat",
            json={"message": "Good morning, officer.", "tenant": "demo", "reset": True},
            headers={
                "Accept": "text/event-stream",
                "X-CSRFToken": admin.cookies["csrftoken"],
                "Referer": f"{base}/playground/",
            },
        ) as streamed:
            assert streamed.status_code == 200, streamed.read()[:2000]
            assert streamed.headers["content-type"].startswith("text/event-stream")
            events = [line[7:] for line in streamed.iter_lines() if line.startswith("event: ")]
        assert events[-1] == "turn" and events.count("text") >= 2, events
