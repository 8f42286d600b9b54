"""Per-turn overhead of the dynamic agent over the LLM stream, with many concurrent sessions.

Runs N text sessions (real ``AgentSession`` + OpenAI plugin) in one process against the fake
OpenAI-compatible server with a fixed per-token delay, each doing T turns, and reports:

- ``own code``: time spent inside our code per turn (context rewrite, extraction of every
  chunk, validation, turn record and publish), measured in the agent;
- ``vs plain agent``: wall time of a turn minus that of a plain livekit ``Agent`` (no schema,
  no extraction) on the same fake stream, p50/p99 of per-turn means;
- memory per session (RSS growth / N).

    DJANGO_SETTINGS_MODULE=config.test_settings .venv/bin/python bench/turn_overhead.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")

import django

django.setup()

from livekit.agents import Agent, AgentSession  # noqa: E402
from livekit.plugins import openai  # noqa: E402

from agents_config.contracts import parse_document  # noqa: E402
from agents_config.demo_agent import demo_document  # noqa: E402
from agents_config.providers import ProviderKeys  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402
from worker.agent import AgentBlueprint, resolve_variables  # noqa: E402
from worker.factory import AgentFactory  # noqa: E402
from worker.publisher import MemoryTurnPublisher  # noqa: E402

REPLY = json.dumps(
    {
        "voice_instructions": "Calm, formal, moderate pace.",
        "system_response": "Thank you. Could you tell me why you chose this university "
        "and how you will pay for your studies?",
        "internal_assessment": "Answers are consistent so far; probe finances next.",
        "interview_stage": "financial_review",
        "credibility_score": 7,
        "red_flags": ["vague study plan"],
    }
)


def rss_mb() -> float:
    with Path("/proc/self/statm").open() as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run_dynamic(base_url: str, sessions: int, turns: int) -> tuple[list, list, float]:
    raw = demo_document()
    raw["llm_config"]["base_url"] = base_url
    document = parse_document(raw)
    before = rss_mb()
    built = []
    for _ in range(sessions):
        factory = AgentFactory(document=document, keys=ProviderKeys(openai="sk"), text_only=True)
        blueprint = AgentBlueprint(
            document=document, variables=resolve_variables(document), version="1.0.0"
        )
        agent = factory.build_agent(blueprint=blueprint, publisher=MemoryTurnPublisher())
        session = factory.build_session()
        await session.start(agent)
        built.append((session, agent))
    per_session_mb = (rss_mb() - before) / sessions
    walls: list[float] = []

    async def converse(session: AgentSession) -> None:
        for i in range(turns):
            start = time.perf_counter()
            await session.run(user_input=f"answer {i}")
            walls.append(time.perf_counter() - start)

    await asyncio.gather(*(converse(s) for s, _ in built))
    overheads = []
    for session, agent in built:
        await agent.turns.flush()
        await session.aclose()
    for _, agent in built:
        overheads.extend(t * 1000 for t in agent.own_code_seconds)
    return walls, overheads, per_session_mb


async def run_plain(base_url: str, sessions: int, turns: int) -> list[float]:
    built = []
    for _ in range(sessions):
        session = AgentSession(llm=openai.LLM(model="m", api_key="sk", base_url=base_url), vad=None)
        await session.start(Agent(instructions="You are a visa officer."))
        built.append(session)
    walls: list[float] = []

    async def converse(session: AgentSession) -> None:
        for i in range(turns):
            start = time.perf_counter()
            await session.run(user_input=f"answer {i}")
            walls.append(time.perf_counter() - start)

    await asyncio.gather(*(converse(s) for s in built))
    for session in built:
        await session.aclose()
    return walls


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--token-delay-ms", type=float, default=10.0)
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("livekit").setLevel(logging.ERROR)
    with FakeOpenAI(token_delay=args.token_delay_ms / 1000) as fake:
        fake.default_reply = REPLY
        plain = await run_plain(fake.base_url, args.sessions, args.turns)
        walls, own, per_session_mb = await run_dynamic(fake.base_url, args.sessions, args.turns)
    tokens = len(REPLY) // 4
    print(
        f"{args.sessions} sessions x {args.turns} turns, {tokens} tokens/reply at "
        f"{args.token_delay_ms:g} ms/token (LLM stream ≈ {tokens * args.token_delay_ms:.0f} ms)"
    )
    print(f"own code per turn:      p50 {pct(own, 0.5):.2f} ms   p99 {pct(own, 0.99):.2f} ms")
    print(
        f"turn wall, plain agent: p50 {pct(plain, 0.5) * 1000:.1f} ms   "
        f"p99 {pct(plain, 0.99) * 1000:.1f} ms"
    )
    print(
        f"turn wall, dynamic:     p50 {pct(walls, 0.5) * 1000:.1f} ms   "
        f"p99 {pct(walls, 0.99) * 1000:.1f} ms   "
        f"(Δ p50 {(pct(walls, 0.5) - pct(plain, 0.5)) * 1000:+.1f} ms)"
    )
    print(f"memory per session:     {per_session_mb:.2f} MB (RSS growth / sessions)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS:               {peak_mb:.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())
