"""A turn with one 200 ms HTTP tool: our configured tool vs a plain ``livekit.agents.Agent``
with an equivalent hand-written ``function_tool``.

Everything but the providers' servers is real: the real OpenAI LLM plugin streams the fake
model's reply (``tests/fakes/openai_server.py``: first a streamed ``tool_calls`` chunk, then
the answer in 3-6-character tokens every 20 ms), livekit-agents runs the tool against a fake
tenant API on 127.0.0.1 that answers after 200 ms (``tests/fakes/tool_server.py``), and the
real OpenAI TTS plugin synthesizes the answer into a null audio sink. The user's message is
text (no STT/VAD), so both agents start from the same instant.

The JSON before our spoken field is sent as one chunk so both agents' spoken words arrive at
the same moments (the cost of the JSON framing itself is ``bench/first_audio.py``'s subject).

Measured per run:
* our code's time per tool call (argument validation, URL and secret headers, response
  mapping, the turn's bookkeeping; the HTTP exchange itself excluded);
* first audio after the tool result: from the tenant API's reply to the first audio frame.

    .venv/bin/python bench/tool_turn.py [--repeat 15]

Goals: our overhead per tool call p50 < 2 ms; first audio after the tool result <= plain + 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")

import django

django.setup()

import httpx  # noqa: E402
from livekit import rtc  # noqa: E402
from livekit.agents import Agent, AgentSession, function_tool  # noqa: E402
from livekit.plugins import openai  # noqa: E402

from agents_config.contracts import parse_document  # noqa: E402
from agents_config.demo_agent import demo_document  # noqa: E402
from agents_config.providers import ProviderKeys  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCall  # noqa: E402
from tests.fakes.tool_server import FakeToolServer, ToolReply  # noqa: E402
from worker.agent import AgentBlueprint  # noqa: E402
from worker.audio import NullAudioOutput  # noqa: E402
from worker.factory import AgentFactory  # noqa: E402
from worker.publisher import MemoryTurnPublisher  # noqa: E402
from worker.tools import ToolEnvironment  # noqa: E402

TOKEN_SIZES = (3, 5, 4, 6, 3, 4, 6, 5)
TOKEN_DELAY = 0.020
TOOL_DELAY = 0.200
MARGIN_MS = 50.0
OVERHEAD_GOAL_MS = 2.0
ANSWER = "Your order has shipped and should arrive on Friday."
HIDDEN = {
    "internal_assessment": "Order status looked up for the applicant.",
    "interview_stage": "document_check",
    "credibility_score": 7,
    "red_flags": [],
}


class FirstFrameOutput(NullAudioOutput):
    def __init__(self) -> None:
        super().__init__()
        self.first_frame = asyncio.Event()

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        self.first_frame.set()


def aligned_sizes(text: str) -> tuple[int, ...]:
    """Token sizes that send the JSON before the spoken text as one chunk, so the spoken
    words arrive at the same times for both agents: what differs is our code, not the JSON
    framing (``bench/first_audio.py`` measures that)."""
    start = text.index(ANSWER)
    sizes = [start] if start else []
    position, index = start, 0
    while position < len(text):
        sizes.append(TOKEN_SIZES[index % len(TOKEN_SIZES)])
        position += sizes[-1]
        index += 1
    return tuple(sizes)


def tts(fake: FakeOpenAI) -> openai.TTS:
    return openai.TTS(
        model="gpt-4o-mini-tts",
        voice="ash",
        response_format="pcm",
        base_url=fake.base_url,
        api_key="sk-bench",
    )


def plain_agent(fake: FakeOpenAI, api: FakeToolServer, client: httpx.AsyncClient) -> Agent:
    @function_tool
    async def lookup_order(order_id: str) -> str:
        """Find an order by its number."""
        response = await client.get(
            f"{api.base_url}/orders/{order_id}",
            headers={"Authorization": "Bearer bench-token"},
            timeout=5,
        )
        body = response.json()
        return json.dumps({"status": body.get("status"), "eta": body.get("eta")})

    return Agent(
        instructions="You look up orders.",
        llm=openai.LLM(model="gpt-4o-mini", base_url=fake.base_url, api_key="sk-bench"),
        tts=tts(fake),
        tools=[lookup_order],
    )


def our_factory(fake: FakeOpenAI, api: FakeToolServer) -> AgentFactory:
    raw = demo_document()
    raw["llm_config"]["base_url"] = fake.base_url
    raw["tts_config"]["instructions_timing"] = "next_turn"
    raw["tools_config"] = {
        "filler_after_seconds": None,
        "tools": [
            {
                "kind": "http",
                "name": "lookup_order",
                "description": "Find an order by its number.",
                "parameters": [{"field_name": "order_id", "field_type": "str"}],
                "url": api.base_url + "/orders/{order_id}",
                "headers": {"Authorization": "Bearer {{ secret.crm_token }}"},
                "response": {"fields": ["status", "eta"]},
            }
        ],
    }
    document = parse_document(raw)
    return AgentFactory(
        document=document,
        keys=ProviderKeys(openai="sk-bench"),
        text_only=True,
        tool_env=ToolEnvironment(secrets={"crm_token": "bench-token"}, session_id="bench"),
    )


async def one_run(fake: FakeOpenAI, api: FakeToolServer, *, ours: bool) -> tuple[float, float]:
    """(first audio after the tool result in ms, our overhead for the call in ms)."""
    answer = (
        json.dumps({"system_response": ANSWER, "voice_instructions": "Friendly.", **HIDDEN})
        if ours
        else ANSWER
    )
    fake.replies.clear()
    fake.add(
        Reply("", tool_calls=(ToolCall("lookup_order", {"order_id": "12345"}),)),
        Reply(answer, token_sizes=aligned_sizes(answer), token_delay=TOKEN_DELAY),
    )
    api.requests.clear()
    factory = None
    client = httpx.AsyncClient()
    if ours:
        factory = our_factory(fake, api)
        agent: Agent = factory.build_agent(
            blueprint=AgentBlueprint.for_session(factory.document, version="1.0.0"),
            publisher=MemoryTurnPublisher(),
        )
    else:
        agent = plain_agent(fake, api, client)
    session = AgentSession(turn_handling={"preemptive_generation": {"enabled": False}})
    audio_out = FirstFrameOutput()
    session.output.audio = audio_out
    await session.start(agent)
    try:
        session.generate_reply(user_input="Where is order 12345?")
        await asyncio.wait_for(audio_out.first_frame.wait(), 30)
        await asyncio.sleep(0.3)
    finally:
        await session.aclose()
        await client.aclose()
        if factory is not None:
            await factory.aclose()
            await agent.tool_env.aclose()
    [request] = api.requests
    if audio_out.first_frame_at is None or request.replied_at is None:
        raise RuntimeError("the agent never spoke after the tool")
    after_tool = (audio_out.first_frame_at - request.replied_at) * 1000
    overhead = 0.0
    if ours:
        [(record, _)] = agent._tool_calls.values()
        if record.status != "ok":
            raise RuntimeError(f"the tool failed: {record.result}")
        overhead = record.overhead_s * 1000
    return after_tool, overhead


async def main_async(repeat: int) -> int:
    with FakeOpenAI() as fake, FakeToolServer() as api:
        api.routes[("GET", "/orders/12345")] = ToolReply(
            {"status": "shipped", "eta": "Friday", "warehouse": "north"}, delay=TOOL_DELAY
        )
        for ours in (False, True):  # warm-up: imports, connections, caches
            await one_run(fake, api, ours=ours)
        plain: list[float] = []
        mine: list[float] = []
        overheads: list[float] = []
        for _ in range(repeat):
            after, _ = await one_run(fake, api, ours=False)
            plain.append(after)
            after, overhead = await one_run(fake, api, ours=True)
            mine.append(after)
            overheads.append(overhead)
    p50_plain = statistics.median(plain)
    p50_ours = statistics.median(mine)
    p50_overhead = statistics.median(overheads)
    p95_overhead = sorted(overheads)[max(0, int(len(overheads) * 0.95) - 1)]
    print(
        f"one HTTP tool answering in {TOOL_DELAY * 1000:.0f} ms; answer streamed in "
        f"{min(TOKEN_SIZES)}-{max(TOKEN_SIZES)}-char tokens every {TOKEN_DELAY * 1000:.0f} ms; "
        f"medians of {repeat} runs"
    )
    print(
        f"first audio after the tool result: plain Agent {p50_plain:.0f} ms, ours {p50_ours:.0f} ms"
    )
    print(f"our code per tool call: p50 {p50_overhead:.3f} ms, p95 {p95_overhead:.3f} ms")
    overhead_met = p50_overhead < OVERHEAD_GOAL_MS
    audio_met = p50_ours <= p50_plain + MARGIN_MS
    print(
        f"goal: overhead per tool call p50 < {OVERHEAD_GOAL_MS:g} ms: "
        f"{'MET' if overhead_met else 'NOT MET'}"
    )
    print(
        f"goal: first audio after the tool result <= plain + {MARGIN_MS:.0f} ms "
        f"({p50_ours:.0f} <= {p50_plain + MARGIN_MS:.0f}): {'MET' if audio_met else 'NOT MET'}"
    )
    return 0 if overhead_met and audio_met else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    return asyncio.run(main_async(args.repeat))


if __name__ == "__main__":
    sys.exit(main())
