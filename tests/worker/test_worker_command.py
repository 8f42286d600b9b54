"""``run_agent_worker`` as a subprocess: clean failure without settings, retries against an
unreachable server, exit 0 on SIGTERM; ``talk`` in text mode against the fake OpenAI server."""

from __future__ import annotations

import io
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.worker.conftest import demo_turn

ROOT = Path(__file__).resolve().parents[2]


def worker_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    env["DJANGO_SETTINGS_MODULE"] = "config.test_settings"
    env["LIVEKIT_AGENTS_PRELOAD_LOCAL_INFERENCE"] = "0"
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_worker_without_livekit_settings_fails_with_one_line():
    proc = subprocess.run(
        [sys.executable, "manage.py", "run_agent_worker"],
        cwd=ROOT,
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1:] == [
        "CommandError: LiveKit is not configured: set LIVEKIT_URL, LIVEKIT_API_KEY, "
        "LIVEKIT_API_SECRET."
    ]


def test_worker_retries_unreachable_server_and_exits_cleanly_on_sigterm():
    env = worker_env(
        LIVEKIT_URL=f"ws://127.0.0.1:{free_port()}",
        LIVEKIT_API_KEY="devkey",
        LIVEKIT_API_SECRET="devsecret-devsecret-devsecret-devsecret",
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "run_agent_worker",
            "--num-idle-processes",
            "0",
            "--health-port",
            "0",
            "--drain-timeout",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            if "retrying in" in line and sum("retrying in" in x for x in output) >= 2:
                break
        assert any("failed to connect to livekit" in line for line in output), output
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(output) + rest
    assert "draining" in rest and "worker stopped" in rest


@pytest.mark.django_db
def test_talk_uses_published_version_by_default_and_draft_on_request(
    published_agent, fake_openai, settings, monkeypatch
):
    from agents_config.services import agent_update_sections

    settings.OPENAI_API_KEY = "sk-test"
    llm = dict(published_agent.llm_config, base_url=fake_openai.base_url)
    agent_update_sections(agent=published_agent, partial={"llm_config": llm})
    from agents_config.services import agent_publish

    agent_publish(agent=published_agent, version="1.1.0")
    agent_update_sections(
        agent=published_agent,
        partial={"prompt_config": {"instructions": "DRAFT PROMPT {{ applicant_name }}"}},
    )
    fake_openai.add(demo_turn("Good morning."), demo_turn("Draft here."))

    out = io.StringIO()
    monkeypatch.setattr("sys.stdin", io.StringIO("Hello\n"))
    call_command(
        "talk",
        published_agent.agent_id,
        "--tenant",
        published_agent.tenant.slug,
        "--user-details",
        '{"applicant_name": "Ana"}',
        stdout=out,
    )
    text = out.getvalue()
    assert "agent> Good morning." in text
    assert '"internal_assessment"' not in text  # hidden fields never printed
    assert "DRAFT PROMPT" not in str(fake_openai.chat_requests[0]["messages"])
    assert "Ana" in str(fake_openai.chat_requests[0]["messages"])

    monkeypatch.setattr("sys.stdin", io.StringIO("Hello\n"))
    call_command("talk", published_agent.agent_id, "--draft", stdout=io.StringIO())
    assert "DRAFT PROMPT" in str(fake_openai.chat_requests[1]["messages"])


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.django_db
@pytest.mark.parametrize("verbose", [False, True])
def test_talk_prints_only_the_conversation_unless_verbose(
    published_agent, fake_openai, settings, monkeypatch, verbose
):
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = fake_openai.base_url
    fake_openai.add(demo_turn("Good morning."))
    recorder = _Recorder()
    root = logging.getLogger()
    root.addHandler(recorder)
    monkeypatch.setattr(root, "level", logging.DEBUG)
    monkeypatch.setattr("sys.stdin", io.StringIO("Hello\n"))
    out = io.StringIO()
    try:
        call_command(
            "talk", published_agent.agent_id, *(["--verbose"] if verbose else []), stdout=out
        )
    finally:
        root.removeHandler(recorder)
    assert "agent> Good morning." in out.getvalue()
    names = {record.name for record in recorder.records}
    if verbose:
        assert any(name.startswith("httpx") for name in names), names
    else:
        assert [r.getMessage() for r in recorder.records] == []
    assert not any("TurnDetector" in r.getMessage() for r in recorder.records)
    assert logging.root.manager.disable == logging.NOTSET  # logging is back for the rest


@pytest.mark.django_db
def test_talk_rejects_unknown_agent_and_bad_details(published_agent):
    with pytest.raises(CommandError, match="No agent"):
        call_command("talk", "nope", stdout=io.StringIO())
    with pytest.raises(CommandError, match="JSON"):
        call_command("talk", published_agent.agent_id, "--user-details", "{", stdout=io.StringIO())
