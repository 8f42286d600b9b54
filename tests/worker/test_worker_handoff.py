"""Handoffs between agents (``transfer_to_agent``): text mode, the job, pinning, publishing."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from agents_config.contracts import parse_document
from agents_config.factories import agent_document
from tests.fakes.openai_tool_calls import ToolCallingOpenAI, tool_call_reply
from tests.worker.conftest import demo_turn
from worker.factory import ProviderKeys
from worker.handoff import HANDOFF_MESSAGE_TYPE, HandoffDirectory, HandoffTarget
from worker.textmode import TextConversation

BILLING_INSTRUCTIONS = "You are the billing desk. Answer questions about invoices."


def transfer_tool(agent_id: str = "billing", **extra: Any) -> dict[str, Any]:
    return {
        "kind": "transfer_to_agent",
        "name": f"transfer_to_{agent_id.replace('-', '_')}",
        "description": f"Hand the conversation to the {agent_id} desk.",
        "agent_id": agent_id,
        **extra,
    }


def raw_document(base_url: str, *, agent_id: str, tools: list[dict] | None = None, **kw: Any):
    raw = agent_document(agent_id=agent_id, **kw)
    raw["llm_config"] = {**raw["llm_config"], "base_url": base_url}
    raw["tools_config"] = {"tools": tools or []}
    return raw


def billing_raw(base_url: str, **kw: Any) -> dict[str, Any]:
    raw = raw_document(base_url, agent_id="billing", **kw)
    raw["prompt_config"] = {
        **copy.deepcopy(raw["prompt_config"]),
        "instructions": BILLING_INSTRUCTIONS,
    }
    raw["tts_config"] = {**raw["tts_config"], "voice": "nova"}
    return raw


@pytest.fixture
def fake_llm():
    with ToolCallingOpenAI() as server:
        yield server


def system_texts(body: dict[str, Any]) -> list[str]:
    return [str(m.get("content")) for m in body["messages"] if m["role"] in ("system", "developer")]


async def test_text_mode_handoff_carries_the_conversation_to_the_target(fake_llm):
    front = parse_document(
        raw_document(fake_llm.base_url, agent_id="front-desk", tools=[transfer_tool()])
    )
    billing = parse_document(billing_raw(fake_llm.base_url))
    directory = HandoffDirectory({"billing": HandoffTarget("billing", "2.1.0", billing)})
    fake_llm.add(
        demo_turn("Hello, front desk here."),
        tool_call_reply("transfer_to_billing"),
        demo_turn("Billing here: your invoice is paid."),
    )
    messages: list[dict[str, Any]] = []
    async with TextConversation(
        document=front,
        version="1.0.0",
        keys=ProviderKeys(openai="sk-test"),
        handoffs=directory,
        on_message=messages.append,
    ) as chat:
        first = await chat.say("Hi")
        second = await chat.say("I have a question about my invoice")
        await chat.flush()
        assert chat.current_agent.blueprint.document.agent_id == "billing"

    assert first is not None and first.agent_id == "front-desk"
    assert second is not None
    assert second.spoken_text == "Billing here: your invoice is paid."
    assert (second.agent_id, second.version, second.index) == ("billing", "2.1.0", 2)
    # the model was offered the transfer tool, then the target ran with its own prompt
    offered = [t["function"]["name"] for t in fake_llm.chat_requests[1].get("tools", [])]
    assert offered == ["transfer_to_billing"]
    target_request = fake_llm.chat_requests[2]
    assert any(BILLING_INSTRUCTIONS in text for text in system_texts(target_request))
    assert not any("consular officer" in text for text in system_texts(target_request))
    # ... and the history carried over: both user messages and the first spoken reply
    contents = json.dumps(target_request["messages"])
    assert "I have a question about my invoice" in contents and "Hi" in contents
    assert "Hello, front desk here." in contents
    assert "secret notes" not in contents  # the previous schema's hidden JSON stays behind
    handoff = next(m for m in messages if m.get("type") == HANDOFF_MESSAGE_TYPE)
    assert handoff["from_agent"] == "front-desk" and handoff["to_agent"] == "billing"
    assert handoff["to_version"] == "2.1.0"
    turn_messages = [m for m in messages if m.get("type") == "structured_turn"]
    assert [m["agent_id"] for m in turn_messages] == ["front-desk", "billing"]
    # the target's voice is its own
    assert chat.current_agent.tts._opts.voice == "nova"


async def test_unknown_target_is_a_tool_error_and_the_agent_goes_on(fake_llm):
    front = parse_document(
        raw_document(fake_llm.base_url, agent_id="front-desk", tools=[transfer_tool()])
    )
    fake_llm.add(tool_call_reply("transfer_to_billing"), demo_turn("I cannot transfer you."))
    async with TextConversation(
        document=front, version="1.0.0", keys=ProviderKeys(openai="sk-test")
    ) as chat:
        record = await chat.say("Billing please")
        assert chat.current_agent is chat.agent
    assert record is not None and record.spoken_text == "I cannot transfer you."
    tool_results = [m for m in fake_llm.chat_requests[1]["messages"] if m["role"] == "tool"]
    assert tool_results and "not available" in tool_results[0]["content"]
