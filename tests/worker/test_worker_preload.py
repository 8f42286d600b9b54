"""A job imports nothing heavy on its event loop: the forkserver's preload list and prewarm
load every module that building a session needs (a fresh interpreter checks it)."""

from __future__ import annotations

from tests.probes import run_probe
from worker.preload import FORKSERVER_MODULES
from worker.server import ServerSettings, build_server

JOB_AFTER_PREWARM = """
import asyncio, importlib, json, sys
from worker.preload import DJANGO_MODULES, FORKSERVER_MODULES

for name in FORKSERVER_MODULES:  # what the forkserver imports, before Django
    importlib.import_module(name)
from worker.entrypoint import setup_django

setup_django()  # prewarm, minus the local models
from worker.preload import warm_process

forkserver = set(sys.modules)
warm_process()
assert set(DJANGO_MODULES) <= set(sys.modules)
from livekit.plugins import silero

from agents_config.demo_agent import demo_document  # the session's document, loaded by the test

vad = silero.VAD.load()
before = set(sys.modules)


async def job():
    # what the entrypoint does once it has the session's document and keys
    from agents_config.contracts import parse_document
    from worker.agent import AgentBlueprint
    from agents_config.providers import ProviderKeys
    from worker.factory import AgentFactory
    from worker.publisher import MemoryTurnPublisher

    raw = demo_document()
    raw["stt_config"] = {"provider": "openai", "model": "whisper-1"}
    for stt in ("openai", "deepgram"):
        raw["stt_config"]["provider"] = stt
        document = parse_document(raw)
        factory = AgentFactory(
            document=document,
            keys=ProviderKeys(openai="sk-test", deepgram="dg-test", openai_base_url="http://127.0.0.1:9/v1"),
            vad=vad,
        )
        blueprint = AgentBlueprint.for_session(document, version="1.0.0", session_id="s")
        factory.build_agent(blueprint=blueprint, publisher=MemoryTurnPublisher())
        factory.build_session()
        await factory.aclose()


asyncio.run(job())
heavy = ("livekit", "openai", "cryptography", "pydantic", "httpx2", "anyio", "agents_config",
         "worker", "sessions_app", "tenants", "django", "aiohttp", "numpy", "onnxruntime")
new = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in heavy)
print(json.dumps(new))
"""


def test_building_a_session_after_prewarm_imports_nothing_heavy():
    env = {
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "LIVEKIT_AGENTS_PRELOAD_LOCAL_INFERENCE": "0",
    }
    assert run_probe(JOB_AFTER_PREWARM, env=env) == []  # nothing imported by the job itself


WARM_ALONE = """
import json, sys
from worker.entrypoint import setup_django
from worker.preload import DJANGO_MODULES, FORKSERVER_MODULES, warm_process

setup_django()
warm_process()
print(json.dumps(sorted(set(FORKSERVER_MODULES + DJANGO_MODULES) - set(sys.modules))))
"""


def test_prewarm_alone_imports_the_whole_list():
    """Without a forkserver (spawn, thread executor) prewarm imports every listed module."""
    env = {"DJANGO_SETTINGS_MODULE": "config.test_settings"}
    assert run_probe(WARM_ALONE, env=env) == []


def test_the_forkserver_preloads_the_plugins_and_agent_modules():
    server = build_server(
        ServerSettings(ws_url="", api_key="", api_secret="", agent_name="t", port=0)
    )
    preloaded = server._preload_modules
    assert set(FORKSERVER_MODULES) <= set(preloaded)
    assert {"livekit.plugins.openai", "cryptography.fernet", "worker.agent"} <= set(preloaded)
