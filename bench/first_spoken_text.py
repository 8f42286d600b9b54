"""Time to first spoken character: speech-first property order vs the declared order.

A scripted LLM emits the demo agent's turn as ~4-character tokens every 20 ms. With
speech-first ordering (what ``compile_schema`` sends) the model writes the TTS instructions and
the spoken line before anything else; with a schema in declared order (here a realistic one
that puts the private assessment first) speech waits behind it. The extractor's own added
delay is measured per token: from the token's arrival to the extractor yielding its text.

Run from the repo root: ``.venv/bin/python bench/first_spoken_text.py``
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents_config.schema import DEMO_FIELDS, compile_schema

TOKEN_CHARS = 4
TOKEN_INTERVAL = 0.020
DECLARED_ORDER = (
    "internal_assessment",
    "interview_stage",
    "credibility_score",
    "red_flags",
    "voice_instructions",
    "system_response",
)
TURN = {
    "voice_instructions": "Formal and calm, a little sceptical; moderate pace.",
    "system_response": (
        "Thank you. You mentioned your uncle is sponsoring your studies. How much will he "
        "contribute each year, and can you show me his bank statements?"
    ),
    "internal_assessment": (
        "Applicant's funding story is inconsistent: the I-20 lists personal savings, but "
        "the applicant now cites an uncle as sponsor. Documents otherwise in order. Probe "
        "the sponsor's income and relationship before moving to intent."
    ),
    "interview_stage": "financial_review",
    "credibility_score": 6,
    "red_flags": ["sponsor unclear", "funding story changed"],
}


async def tokens(text: str, arrivals: list[float]) -> AsyncIterator[str]:
    """The scripted LLM: one token per interval; records each token's arrival time."""
    for i in range(0, len(text), TOKEN_CHARS):
        await asyncio.sleep(TOKEN_INTERVAL)
        arrivals.append(time.perf_counter())
        yield text[i : i + TOKEN_CHARS]


async def run(order: tuple[str, ...]) -> dict[str, float]:
    schema = compile_schema(DEMO_FIELDS)
    text = json.dumps({key: TURN[key] for key in order})
    arrivals: list[float] = []
    tts_at: list[float] = []
    extractor = schema.extractor(on_tts_instructions=lambda _: tts_at.append(time.perf_counter()))
    start = time.perf_counter()
    first = None
    delays = []
    async for _delta in extractor.stream(tokens(text, arrivals)):
        now = time.perf_counter()
        delays.append(now - arrivals[-1])
        if first is None:
            first = now - start
    assert extractor.result is not None and extractor.result.ok
    assert extractor.result.spoken_text == TURN["system_response"]
    assert first is not None
    return {
        "first": first * 1000,
        "tts": (tts_at[0] - start) * 1000,
        "tokens": len(arrivals),
        "max_delay": max(delays) * 1000,
        "mean_delay": statistics.fmean(delays) * 1000,
    }


def main() -> int:
    out = sys.stdout.write
    speech_first = compile_schema(DEMO_FIELDS).property_order
    results = {
        "speech-first": asyncio.run(run(speech_first)),
        "declared": asyncio.run(run(DECLARED_ORDER)),
    }
    out(f"{TOKEN_CHARS}-char tokens every {TOKEN_INTERVAL * 1000:.0f} ms\n")
    out(
        f"{'order':<13} {'tokens':>6} {'TTS instr. ms':>14} {'first speech ms':>16} "
        f"{'extractor delay mean/max ms':>28}\n"
    )
    for name, r in results.items():
        out(
            f"{name:<13} {r['tokens']:>6} {r['tts']:>14.0f} {r['first']:>16.0f} "
            f"{r['mean_delay']:>18.3f} / {r['max_delay']:.3f}\n"
        )
    saved = results["declared"]["first"] - results["speech-first"]["first"]
    out(f"\nspeech-first ordering speaks {saved:.0f} ms earlier\n")
    worst = max(r["max_delay"] for r in results.values())
    met = worst < 1.0
    out(
        f"extractor added delay (worst token) {worst:.3f} ms -> goal < 1 ms: "
        f"{'MET' if met else 'NOT MET'}\n"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
