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
from agents_config.providers import ProviderKeys
from worker.handoff import HANDOFF_MESSAGE_TYPE, HandoffDirectory
from worker.textmode import TextConversation
from worker.tools import ToolCallRecord

PROMPT = "you> "


async def talk(
    *,
    document: AgentDocument,
    version: str,
    keys: ProviderKeys,
    user_details: dict[str, Any],
    read_line: Callable[[], str | None],
    out: TextIO = sys.stdout,
    tool_env: Any = None,
    handoffs: HandoffDirectory | None = None,
) -> int:
    """Converse until end of input (or ``/quit``); returns the number of turns."""

    def show_turn(message: dict[str, Any]) -> None:
        if message.get("type") == HANDOFF_MESSAGE_TYPE:
            out.write(
                f"[handoff {message['from_agent']}@{message['from_version']} -> "
                f"{message['to_agent']}@{message['to_version']}]\n"
            )
            out.flush()
            return
        status = "valid" if message["valid"] else "errors: " + "; ".join(message["errors"])
        out.write(f"[turn {message['turn']} {status}]\n")
        out.write(json.dumps(message["data"], ensure_ascii=False, indent=2) + "\n")
        out.flush()

    def show_tool(call: ToolCallRecord) -> None:
        arguments = json.dumps(call.arguments, ensure_ascii=False)
        if call.status == "running":
            out.write(f"[tool {call.name} {arguments} ...]\n")
        else:
            took = f"{call.duration_ms or 0:.0f} ms"
            out.write(f"[tool {call.name} {call.status} in {took}] {call.result}\n")
        out.flush()

    turns = 0
    async with TextConversation(
        document=document,
        version=version,
        keys=keys,
        user_details=user_details,
        on_message=show_turn,
        tool_env=tool_env,
        handoffs=handoffs,
    ) as conversation:
        conversation.agent.on_tool_call = show_tool
        while True:
            out.write(PROMPT)
            out.flush()
            line = await asyncio.to_thread(read_line)
            if line is None or line.strip() in ("/quit", "/exit"):
                break
            if not line.strip():
                continue
            record = await conversation.say(line.strip())
            out.write(f"agent> {record.spoken_text if record else ''}\n")
            await conversation.flush()
            turns += 1
    out.write("\n")
    return turns
