"""MCP servers (``tools_config.mcp_servers``) against a real MCP server on 127.0.0.1 (the
``mcp`` package over streamable HTTP), through livekit-agents' MCP client."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from livekit.agents.llm.tool_context import get_raw_function_info

from agents_config.contracts import MCPServerConfig, parse_document
from agents_config.factories import agent_document
from tests.fakes.mcp_server import FakeMCPServer, SilentServer
from tests.fakes.openai_server import FakeOpenAI, tool_call_reply, tool_messages
from tests.worker.conftest import demo_turn
from worker.factory import ProviderKeys
from worker.mcp import BoundedMCPToolset, mcp_toolsets
from worker.textmode import TextConversation
from worker.tools import ToolEnvironment

SECRET = "mcp-token-5f3a9c"


@pytest.fixture
def mcp_server():
    with FakeMCPServer(slow_seconds=0.2) as server:
        yield server


def server_config(url: str, **overrides: Any) -> MCPServerConfig:
    return MCPServerConfig(
        **{
            "name": "crm",
            "url": url,
            "auth_secret": "crm_token",
            "allowed_tools": ["lookup_order", "slow_lookup"],
            "timeout_seconds": 3,
            **overrides,
        }
    )


def names(toolset: BoundedMCPToolset) -> list[str]:
    return sorted(get_raw_function_info(tool).name for tool in toolset.tools)


async def test_only_allowed_tools_are_offered_and_the_secret_is_the_auth_header(mcp_server, caplog):
    caplog.set_level(logging.DEBUG)
    (toolset,) = mcp_toolsets(
        parse_document(
            {
                **agent_document(),
                "tools_config": {"mcp_servers": [server_config(mcp_server.url).model_dump()]},
            }
        ).tools_config,
        {"crm_token": SECRET},
    )
    try:
        await toolset.setup()
        assert toolset.failure is None
        assert names(toolset) == ["lookup_order", "slow_lookup"]  # not cancel_order
        lookup = next(t for t in toolset.tools if get_raw_function_info(t).name == "lookup_order")
        assert await lookup({"order_id": "A-17"}) == "order A-17 shipped"
    finally:
        await toolset.aclose()
    assert mcp_server.calls == [("lookup_order", {"order_id": "A-17"})]
    assert mcp_server.request_headers
    assert all(h.get("authorization") == f"Bearer {SECRET}" for h in mcp_server.request_headers)
    assert SECRET not in caplog.text


async def test_a_missing_secret_leaves_the_server_out(mcp_server, caplog):
    document = parse_document(
        {
            **agent_document(),
            "tools_config": {"mcp_servers": [server_config(mcp_server.url).model_dump()]},
        }
    )
    assert mcp_toolsets(document.tools_config, {}) == []
    assert "crm_token" in caplog.text


async def test_the_url_policy_applies_at_connect_time(mcp_server, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    toolset = BoundedMCPToolset(config=server_config(mcp_server.url), headers={})
    await asyncio.wait_for(toolset.setup(), 20)
    assert toolset.tools == []
    assert toolset.failure and "loopback" in toolset.failure
    assert mcp_server.request_headers == []  # nothing reached the server


async def test_a_hung_server_is_given_up_after_its_timeout():
    with SilentServer() as silent:
        toolset = BoundedMCPToolset(
            config=server_config(silent.url, timeout_seconds=0.5), headers={}
        )
        await asyncio.wait_for(toolset.setup(), 20)  # bounded by timeout_seconds, not hung
    assert toolset.tools == [] and toolset.failure == "no answer in time"


@pytest.fixture
def fake_llm():
    with FakeOpenAI() as server:
        yield server


async def test_the_model_calls_an_mcp_tool_and_answers_with_its_result(mcp_server, fake_llm):
    raw = agent_document()
    raw["llm_config"] = {**raw["llm_config"], "base_url": fake_llm.base_url}
    raw["tools_config"] = {"mcp_servers": [server_config(mcp_server.url).model_dump()]}
    fake_llm.add(
        tool_call_reply("lookup_order", {"order_id": "A-17"}),
        demo_turn("Your order A-17 has shipped."),
    )
    async with TextConversation(
        document=parse_document(raw),
        version="1.0.0",
        keys=ProviderKeys(openai="sk-test"),
        tool_env=ToolEnvironment(secrets={"crm_token": SECRET}, session_id="mcp-test"),
    ) as chat:
        record = await chat.say("Where is my order A-17?")
    assert record is not None and record.spoken_text == "Your order A-17 has shipped."
    offered = sorted(t["function"]["name"] for t in fake_llm.chat_requests[0]["tools"])
    assert offered == ["lookup_order", "slow_lookup"]
    assert mcp_server.calls == [("lookup_order", {"order_id": "A-17"})]
    (result,) = tool_messages(fake_llm.chat_requests[1])
    assert result["content"] == "order A-17 shipped"


async def test_an_unreachable_server_does_not_stop_the_session(fake_llm):
    with SilentServer() as silent:
        raw = agent_document()
        raw["llm_config"] = {**raw["llm_config"], "base_url": fake_llm.base_url}
        raw["tools_config"] = {
            "mcp_servers": [server_config(silent.url, timeout_seconds=0.5).model_dump()]
        }
        fake_llm.add(demo_turn("Hello without tools."))
        async with TextConversation(
            document=parse_document(raw),
            version="1.0.0",
            keys=ProviderKeys(openai="sk-test"),
            tool_env=ToolEnvironment(secrets={"crm_token": SECRET}, session_id="mcp-test"),
        ) as chat:
            record = await asyncio.wait_for(chat.say("Hi"), 30)
    assert record is not None and record.spoken_text == "Hello without tools."
    assert "tools" not in fake_llm.chat_requests[0] or not fake_llm.chat_requests[0]["tools"]
