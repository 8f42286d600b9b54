"""Remote MCP servers of an agent (``tools_config.mcp_servers``) on livekit-agents' MCP support.

Each server is a ``livekit.agents.llm.mcp.MCPToolset`` over streamable HTTP with these rules:

- every connection goes through the outbound-URL policy (``tenants.outbound``: checked on the
  resolved address at connect time, no redirects, no environment proxies);
- only the tools named in ``allowed_tools`` are offered to the model (``MCPServerHTTP``'s
  allow-list); a tool the server lists but the config does not name is never seen;
- the auth header's value comes from a tenant secret and is never logged;
- a server that cannot be reached, is refused by the policy or does not answer within its
  ``timeout_seconds`` at session start is logged and left out: the agent runs without it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from livekit.agents.llm.mcp import MCPServerHTTP, MCPToolResultContext, MCPToolset
from livekit.agents.llm.tool_context import ToolError

from agents_config.contracts import TOOL_RESULT_MAX_CHARS, MCPServerConfig, ToolsConfig

logger = logging.getLogger(__name__)


def _text_result(ctx: MCPToolResultContext) -> str:
    """The tool's text content for the model (other content as JSON), size-capped."""
    parts = [
        item.text if getattr(item, "type", None) == "text" else item.model_dump_json(by_alias=True)
        for item in ctx.result.content
    ]
    if not parts:
        if ctx.result.structured_content is not None:
            parts = [json.dumps(ctx.result.structured_content, ensure_ascii=False)]
        else:
            raise ToolError(f"Tool {ctx.tool_name!r} returned no result.")
    return "\n".join(parts)[:TOOL_RESULT_MAX_CHARS]


class PolicyMCPServer(MCPServerHTTP):
    """``MCPServerHTTP`` whose HTTP client connects only through the outbound-URL policy."""

    def _create_http_client(
        self, headers: dict[str, Any] | None = None, timeout: Any = None, auth: Any = None
    ) -> Any:
        from tenants.outbound import async_httpx2_client

        self._http_client = async_httpx2_client(
            headers=headers if headers is not None else self._headers,
            timeout=timeout,
            auth=auth,
            connect_timeout=self._timeout,
            read_timeout=self._sse_read_timeout,
        )
        return self._http_client

    def __repr__(self) -> str:  # the URL's host only: paths may carry tokens
        return f"PolicyMCPServer(host={urlsplit(self.url).hostname})"


def _reason(exc: BaseException) -> str:
    """The first leaf of an exception group (anyio wraps transport errors), as text."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return f"{type(exc).__name__}: {exc}"


class BoundedMCPToolset(MCPToolset):
    """An MCP toolset whose start-up is bounded: on failure it offers no tools."""

    def __init__(self, *, config: MCPServerConfig, headers: dict[str, str]) -> None:
        server = PolicyMCPServer(
            config.url,
            transport_type="streamable_http",
            allowed_tools=list(config.allowed_tools),
            headers=headers,
            timeout=config.timeout_seconds,
            sse_read_timeout=max(config.timeout_seconds, 30.0),
            client_session_timeout_seconds=config.timeout_seconds,
            tool_result_resolver=_text_result,
        )
        super().__init__(id=f"mcp_{config.name}", mcp_server=server)
        self.config = config
        self.failure: str | None = None
        """Why the server was left out at session start (None: it is in use)."""

    async def setup(self, *, reload: bool = False) -> BoundedMCPToolset:
        try:
            async with asyncio.timeout(self.config.timeout_seconds):
                await super().setup(reload=reload)
        except Exception as exc:  # noqa: BLE001 - the agent goes on without this server
            self.failure = _reason(exc)
            self._tools = []
            logger.warning(
                "MCP server %s (%s) is unavailable, the agent runs without its tools: %s",
                self.config.name,
                urlsplit(self.config.url).hostname,
                self.failure,
            )
            await self._close_quietly()
        return self

    async def _close_quietly(self) -> None:
        try:
            await self._mcp_server.aclose()
        except asyncio.CancelledError:
            # The connect task was cancelled by the timeout; only a cancellation of this
            # task itself goes on.
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
        except Exception:  # already failed; nothing more to report
            logger.debug("closing MCP server %s failed", self.config.name, exc_info=True)


def auth_headers(config: MCPServerConfig, secrets: dict[str, str]) -> dict[str, str] | None:
    """The server's auth header from its tenant secret; None if the secret is missing."""
    if not config.auth_secret:
        return {}
    value = secrets.get(config.auth_secret)
    if not value:
        return None
    return {config.auth_header: f"{config.auth_scheme} {value}".strip()}


def mcp_toolsets(tools_config: ToolsConfig, secrets: dict[str, str]) -> list[BoundedMCPToolset]:
    """One bounded toolset per configured server (a server whose secret is missing is left
    out, logged by secret name)."""
    toolsets = []
    for config in tools_config.mcp_servers:
        headers = auth_headers(config, secrets)
        if headers is None:
            logger.warning(
                "MCP server %s left out: tenant secret %s does not exist or cannot be read",
                config.name,
                config.auth_secret,
            )
            continue
        toolsets.append(BoundedMCPToolset(config=config, headers=headers))
    return toolsets
