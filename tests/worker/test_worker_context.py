"""Bounded context on the real livekit-agents session and OpenAI plugin: after
``llm_config.max_history_turns`` the LLM request stops growing, yet keeps the system prompt,
the few-shot examples and the latest structured reply."""

from __future__ import annotations

import json

from tests.worker.conftest import blueprint_for, build_factory, demo_turn
from worker.publisher import MemoryTurnPublisher

EXAMPLES = [
    {"user": "Hello.", "assistant": "Good morning. Passport, please."},
]


async def test_llm_request_size_is_bounded_by_max_history_turns(fake_openai):
    base = build_factory(fake_openai.base_url).document.to_dict()
    factory = build_factory(
        fake_openai.base_url,
        llm_config={**base["llm_config"], "max_history_turns": 3},
        prompt_config={**base["prompt_config"], "examples": EXAMPLES},
    )
    turns = 24
    fake_openai.add(*[demo_turn(f"Question {n}?", red_flags=[f"flag-{n}"]) for n in range(turns)])
    agent = factory.build_agent(blueprint=blueprint_for(factory), publisher=MemoryTurnPublisher())
    session = factory.build_session()
    await session.start(agent)
    try:
        for n in range(turns):
            await session.run(user_input=f"Answer number {n}.")
        await agent.turns.flush()
    finally:
        await session.aclose()
    sizes = [len(json.dumps(r["messages"])) for r in fake_openai.chat_requests]
    assert len(sizes) == turns
    assert sizes[-1] <= sizes[4] * 1.1  # turn 24 costs what turn 5 did
    assert sizes[-1] < sizes[4] * 3  # and far less than an unbounded context would

    last = fake_openai.chat_requests[-1]["messages"]
    text = json.dumps(last)
    assert last[0]["role"] in ("system", "developer")  # the system prompt stays
    assert "Good morning. Passport, please." in text  # so do the few-shot examples
    users = [m["content"] for m in last if m["role"] == "user"]
    assert users[0] == "Hello."  # the example's user message
    assert users[1:] == [f"Answer number {n}." for n in range(turns - 3, turns)]
    assert "Answer number 0." not in text
    latest = json.loads([m for m in last if m["role"] == "assistant"][-1]["content"])
    assert latest["red_flags"] == [f"flag-{turns - 2}"]  # the latest state, in full


def test_latest_structured_reply_stays_when_older_than_the_window():
    from livekit.agents import llm

    from worker.agent import EXAMPLE_EXTRA_KEY, bounded_history
    from worker.turns import STRUCTURED_EXTRA_KEY

    ctx = llm.ChatContext.empty()
    ctx.add_message(role="system", content="You are an officer.")
    ctx.add_message(role="user", content="ex", extra={EXAMPLE_EXTRA_KEY: True})
    ctx.add_message(role="user", content="u1")
    ctx.add_message(role="assistant", content="{}", extra={STRUCTURED_EXTRA_KEY: '{"s": 1}'})
    for n in range(2, 6):
        ctx.add_message(role="user", content=f"u{n}")
        ctx.add_message(role="assistant", content=f"plain {n}")  # e.g. degraded replies
    kept = [item.text_content for item in bounded_history(list(ctx.items), 2)]
    assert kept == ["You are an officer.", "ex", "{}", "u4", "plain 4", "u5", "plain 5"]
    assert len(bounded_history(list(ctx.items), 50)) == len(ctx.items)
