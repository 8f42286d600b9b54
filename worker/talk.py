"""Text conversations with an agent in the terminal (``manage.py talk``), no room needed.

Runs the same factory and agent class as the worker, on a text-only ``AgentSession``
(livekit-agents text mode): no STT, VAD or audio; the structured turn is printed as it is
published to the in-memory publisher.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from agents_config.contracts import AgentDocument
from worker.agent import AgentBlueprint, resolve_variables
from worker.factory import AgentFactory, ProviderKeys
from worker.publisher import MemoryTurnPublisher

PROMPT = "you> "


async def talk(
    *,
    document: AgentDocument,
    version: str,
    keys: ProviderKeys,
    user_details: dict[str, Any],
    read_line: Callable[[], str | None],
    out: TextIO = sys.stdout,
) -> int:
    """Converse until end of input (or ``/quit``); returns the number of turns."""

    def show_turn(message: dict[str, Any]) -> None:
        status = "valid" if message["valid"] else "errors: " + "; ".join(message["errors"])
        out.write(f"[turn {message['turn']} {status}]\n")
        out.write(json.dumps(message["data"], ensure_ascii=False, indent=2) + "\n")
        out.flush()

    publisher = MemoryTurnPublisher(on_message=show_turn)
    factory = AgentFactory(document=document, keys=keys, text_only=True)
    blueprint = AgentBlueprint(
        document=document,
        variables=resolve_variables(document, user_details=user_details),
        version=version,
    )
    agent = factory.build_agent(blueprint=blueprint, publisher=publisher)
    session = factory.build_session()
    await session.start(agent)
    turns = 0
    try:
        while True:
            out.write(PROMPT)
            out.flush()
            line = await asyncio.to_thread(read_line)
            if line is None or line.strip() in ("/quit", "/exit"):
                break
            if not line.strip():
                continue
            result = session.run(user_input=line.strip())
            await result
            spoken = agent.turns.records[-1].spoken_text if agent.turns.records else ""
            out.write(f"agent> {spoken}\n")
            await agent.turns.flush()
            turns += 1
    finally:
        await session.aclose()
        await agent.turns.flush()
    out.write("\n")
    return turns
