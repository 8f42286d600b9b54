"""The tools of ``tools_config`` as livekit-agents raw function tools, built per session.

Each configured tool becomes a ``function_tool(raw_schema=...)`` whose parameters are the
strict JSON Schema the schema engine compiles (``ToolBase.compile_parameters``), so the model
sees exactly what the arguments are validated against. The framework runs the tool and the next
generation sees its result; ``worker.agent`` records every call on the turn.

Rules kept here:

* HTTP tools go out only through ``tenants.outbound`` (resolved addresses checked at connect
  time, no redirects). Header values name tenant secrets (``{{ secret.NAME }}``); secret values
  are never logged, recorded or shown to the model.
* A turn never hangs on a tool: every request has its timeout (default 5 s, max 30 s) and
  failures come back as a tool error the model can explain.
* ``effect: read`` tools are cancelled when the user interrupts; ``effect: write`` tools are
  never cancelled half-way (shielded) and never run twice for one call: a second execution of
  the same call id awaits the first, and the request carries an ``Idempotency-Key`` header.
* A tool still running after ``filler_after_seconds`` makes the agent say ``filler_text``
  once per turn (not added to the conversation).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from livekit.agents import RunContext, ToolError, function_tool, llm
from livekit.agents.telemetry import tracer

from agents_config.contracts import (
    SECRET_REFERENCE,
    URL_PLACEHOLDER,
    EndCallTool,
    HTTPTool,
    SendDtmfTool,
    ToolBase,
    ToolsConfig,
    TransferCallTool,
)

logger = logging.getLogger(__name__)

RESULT_PREVIEW_CHARS = 500
"""Characters of a tool's result kept on the stored/published turn."""
IDEMPOTENCY_HEADER = "Idempotency-Key"
AGENT_ENDED_REASON = "agent_ended"
"""The session end reason when the agent's ``end_call`` tool hangs up."""


class ToolTimeout(ToolError):
    """The tool did not answer within its timeout."""


class ToolCancelled(ToolError):
    """A read tool stopped because the user interrupted."""


@dataclass
class ToolCallRecord:
    """One tool call as the structured turn shows it (no secrets; result truncated)."""

    call_id: str
    name: str
    arguments: dict[str, Any] | str
    kind: str = ""
    status: str = "running"
    """running, ok, error, timeout, cancelled."""
    duration_ms: float | None = None
    result: str = ""
    started_at: float = field(default_factory=time.perf_counter, repr=False)
    overhead_s: float = field(default=0.0, repr=False)
    """Time spent in this module's own code for the call (bench/tool_turn.py)."""
    request_s: float = field(default=0.0, repr=False)
    """Time spent awaiting the HTTP exchange (the tenant's API and the HTTP client)."""

    def finish(self, status: str, result: str) -> None:
        self.status = status
        self.duration_ms = round((time.perf_counter() - self.started_at) * 1000, 2)
        self.result = truncate(result, RESULT_PREVIEW_CHARS)

    def as_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "name": self.name,
            "kind": self.kind,
            "arguments": self.arguments,
            "status": self.status,
            "duration_ms": self.duration_ms,
            "result": self.result,
        }


class ToolHost(Protocol):
    """What tools need from the agent running them (``worker.agent.DynamicAgent``)."""

    def tool_call_record(self, call_id: str, name: str, arguments: Any) -> ToolCallRecord: ...

    def tool_call_done(self, record: ToolCallRecord) -> None: ...

    async def end_call(self, goodbye: str, record: ToolCallRecord) -> None: ...


@dataclass
class ToolEnvironment:
    """A session's tool settings: the tenant's secrets the tools name, and the session id."""

    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    session_id: str = ""
    transfer: Callable[[str, str], Awaitable[None]] | None = None
    """``transfer(session_id, number)``: SIP transfer of the session's phone participant
    (raises ``ToolError`` when the session is not a phone call)."""
    mocks: dict[str, Any] | None = None
    """Test-suite mode (``agents_config.test_suites``): tool name -> ``ToolMock`` (a fixed
    ``result`` or an ``error``). When set, no tool reaches a real system: an HTTP tool
    answers its mock (or a "not mocked" tool error) without a request, and ``end_call`` /
    ``transfer_call`` are recorded but neither hang up nor transfer."""
    transferred_to: str = ""
    """The number the call was handed to (the session's end reason says so)."""
    send_dtmf: Callable[[str], Awaitable[str]] | None = None
    """``send_dtmf(digits)``: keypad tones to the room's phone participant, returning what
    was sent (``worker.telephony.DtmfSender``; raises ``ToolError`` without one). The job
    sets it; text mode has no room, so the tool is a clear error there."""
    _client: Any = field(default=None, repr=False)
    _writes: dict[str, asyncio.Future[Any]] = field(default_factory=dict, repr=False)
    _filler_spoken: set[str] = field(default_factory=set, repr=False)

    def client(self) -> Any:
        """One outbound-policy HTTP client per session (connections reused between calls)."""
        if self.mocks is not None:  # a bug if reached: a suite run must never send
            raise ToolError("tools make no requests during a test-suite run")
        if self._client is None:
            from tenants.outbound import async_httpx_client

            self._client = async_httpx_client()
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 14)] + "…(truncated)"


def idempotency_key(session_id: str, call_id: str) -> str:
    """Stable for one call of one session: a retried request is recognised as the same."""
    return hashlib.sha256(f"{session_id}:{call_id}".encode()).hexdigest()[:40]


def raw_schema(tool: ToolBase) -> dict[str, Any]:
    return {
        "name": tool.name,
        "description": tool.description,
        "parameters": tool.compile_parameters().json_schema,
    }


def validated_arguments(tool: ToolBase, raw: dict[str, Any]) -> dict[str, Any]:
    """The arguments checked against the tool's parameters; ``ToolError`` names the problems
    so the model can correct itself."""
    result = tool.compile_parameters().validate_output(raw or {})
    if result.errors:
        raise ToolError(f"invalid arguments for {tool.name}: {'; '.join(result.errors)}")
    return result.data


# --- HTTP tools ----------------------------------------------------------------------------


def render_url(tool: HTTPTool, arguments: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The URL with its placeholders replaced by URL-encoded arguments, and the arguments the
    template did not use."""
    used = set(tool.url_parameters())

    def fill(match: Any) -> str:
        value = arguments.get(match.group(1))
        return "" if value is None else quote(_scalar(value), safe="")

    url = URL_PLACEHOLDER.sub(fill, tool.url)
    rest = {k: v for k, v in arguments.items() if k not in used}
    return url, rest


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def render_headers(tool: HTTPTool, secrets: dict[str, str]) -> dict[str, str]:
    """Header values with ``{{ secret.NAME }}`` replaced (a missing secret is a tool error
    naming the secret, never a value)."""
    headers: dict[str, str] = {}
    for name, template in tool.headers.items():

        def fill(match: Any) -> str:
            secret = match.group(1)
            if secret not in secrets:
                raise ToolError(f"{tool.name} is not configured: secret {secret!r} is not set")
            return secrets[secret]

        headers[name] = SECRET_REFERENCE.sub(fill, template)
    return headers


def map_response(tool: HTTPTool, body: Any) -> str:
    """What the model sees of the reply: the configured fields (all when none), as JSON
    capped at ``response.max_chars``."""
    fields = tool.response.fields
    if fields and isinstance(body, dict | list):
        shown: Any = {path: _lookup(body, path) for path in fields}
    else:
        shown = body
    text = shown if isinstance(shown, str) else json.dumps(shown, ensure_ascii=False, default=str)
    return truncate(text, tool.response.max_chars)


def _lookup(body: Any, path: str) -> Any:
    value = body
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


@dataclass(frozen=True)
class PreparedRequest:
    method: str
    url: str
    headers: dict[str, str] = field(repr=False)
    body: dict[str, Any] | None = None


def prepare_request(
    tool: HTTPTool, arguments: dict[str, Any], env: ToolEnvironment, call_id: str
) -> PreparedRequest:
    """The request for validated arguments (URL filled, secrets resolved, idempotency key)."""
    url, rest = render_url(tool, arguments)
    headers = render_headers(tool, env.secrets)
    if tool.effect == "write":
        headers[IDEMPOTENCY_HEADER] = idempotency_key(env.session_id, call_id)
    body = None
    if tool.method in ("GET", "DELETE"):
        query = {k: _scalar(v) for k, v in rest.items() if v is not None}
        if query:
            url += ("&" if "?" in url else "?") + urlencode(query)
    else:
        body = rest
    return PreparedRequest(tool.method, url, headers, body)


async def send_request(tool: HTTPTool, request: PreparedRequest, env: ToolEnvironment) -> Any:
    """Send it; the reply's JSON (or text), or ``ToolError`` the model can explain."""
    import httpx

    try:
        async with asyncio.timeout(tool.timeout_seconds):
            response = await env.client().request(
                request.method,
                request.url,
                headers=request.headers,
                json=request.body,
                timeout=tool.timeout_seconds,
            )
    except (TimeoutError, httpx.TimeoutException):
        raise ToolTimeout(
            f"{tool.name} did not answer within {tool.timeout_seconds:g} s; "
            "tell the user it is unavailable right now"
        ) from None
    except httpx.HTTPError as exc:
        # the policy's refusal or a connection failure (the message names no secret)
        raise ToolError(f"{tool.name} could not be reached ({type(exc).__name__})") from None
    if response.status_code >= 400:
        raise ToolError(
            f"{tool.name} failed: the service answered HTTP {response.status_code}; "
            "tell the user it could not be done right now"
        )
    try:
        return response.json()
    except ValueError:
        return response.text


# --- building the tools --------------------------------------------------------------------


class ToolRunner:
    """Runs one configured tool for the framework, recording each call on its turn."""

    def __init__(
        self, tool: ToolBase, *, config: ToolsConfig, env: ToolEnvironment, host: ToolHost
    ) -> None:
        self.tool = tool
        self.config = config
        self.env = env
        self.host = host

    async def __call__(self, raw_arguments: dict[str, Any], context: RunContext) -> str | None:
        mark = time.perf_counter()
        call = context.function_call
        record = self.host.tool_call_record(call.call_id, self.tool.name, raw_arguments)
        record.kind = getattr(self.tool, "kind", "")
        span = tracer.start_span(
            "agent.tool_call",
            attributes={"tool.name": self.tool.name, "tool.kind": record.kind},
        )
        record.overhead_s += time.perf_counter() - mark
        status, result = "error", ""
        try:
            mark = time.perf_counter()
            arguments = validated_arguments(self.tool, raw_arguments)
            record.overhead_s += time.perf_counter() - mark
            output = await self._run(arguments, context, record)
            status, result = "ok", output or ""
            return output
        except ToolError as exc:
            status = (
                "timeout"
                if isinstance(exc, ToolTimeout)
                else "cancelled"
                if isinstance(exc, ToolCancelled)
                else "error"
            )
            result = exc.message
            raise
        except asyncio.CancelledError:
            status, result = "cancelled", "cancelled"
            raise
        except Exception as exc:  # a bug must not hang the turn: the model hears an error
            logger.exception("tool %s failed", self.tool.name)
            status, result = "error", f"{self.tool.name} failed"
            raise ToolError(f"{self.tool.name} failed unexpectedly") from exc
        finally:
            mark = time.perf_counter()
            record.finish(status, result)
            span.set_attributes(
                {"tool.status": status, "tool.duration_ms": record.duration_ms or 0.0}
            )
            span.end()
            self.host.tool_call_done(record)
            record.overhead_s += time.perf_counter() - mark

    async def _run(
        self, arguments: dict[str, Any], context: RunContext, record: ToolCallRecord
    ) -> str | None:
        tool = self.tool
        if self.env.mocks is not None:
            return self._run_mocked(tool)
        if isinstance(tool, HTTPTool):
            return await self._run_http(tool, arguments, context, record)
        if isinstance(tool, EndCallTool):
            await self.host.end_call(tool.goodbye, record)
            return None
        if isinstance(tool, TransferCallTool):
            if self.env.transfer is None:
                raise ToolError("transfer_call only works on phone calls; this is not one")
            if tool.message:
                context.session.say(tool.message, allow_interruptions=False)
            await self.env.transfer(self.env.session_id, tool.phone_number)
            self.env.transferred_to = tool.phone_number
            return f"The call is being transferred to {tool.phone_number}."
        if isinstance(tool, SendDtmfTool):
            return await self._run_dtmf(arguments["digits"], context)
        raise ToolError(f"{tool.name} ({getattr(tool, 'kind', '?')}) is not available here")

    def _run_mocked(self, tool: ToolBase) -> str | None:
        """A suite run: the case's mock for this tool, never the real system."""
        mock = self.env.mocks.get(tool.name) if self.env.mocks is not None else None
        if mock is not None:
            if mock.error is not None:
                raise ToolError(mock.error)
            if isinstance(tool, HTTPTool):
                return map_response(tool, mock.result)
            result = mock.result
            return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
        if isinstance(tool, EndCallTool):
            return "(test run) the call would end now."
        if isinstance(tool, TransferCallTool):
            return f"(test run) the call would be transferred to {tool.phone_number}."
        if isinstance(tool, SendDtmfTool):
            return "(test run) the keypad tones would be sent now."
        raise ToolError(f"{tool.name} is not mocked in this test case; it was not called")

    async def _run_dtmf(self, digits: str, context: RunContext) -> str:
        """Tones are never cut half-way by an interruption, nor sent twice for one call."""
        if self.env.send_dtmf is None:
            raise ToolError(f"{self.tool.name} only works on phone calls; this is not one")
        call_id = context.function_call.call_id
        running = self.env._writes.get(call_id)
        if running is None:
            running = asyncio.ensure_future(self.env.send_dtmf(digits))
            self.env._writes[call_id] = running
        return await asyncio.shield(running)

    async def _run_http(
        self, tool: HTTPTool, arguments: dict[str, Any], context: RunContext, record: Any
    ) -> str:
        call_id = context.function_call.call_id
        mark = time.perf_counter()
        if tool.effect == "write":
            running = self.env._writes.get(call_id)
            if running is None:  # never twice for one call; never cancelled half-way
                request = prepare_request(tool, arguments, self.env, call_id)
                running = asyncio.ensure_future(send_request(tool, request, self.env))
                self.env._writes[call_id] = running
            work: Any = asyncio.shield(running)
        else:
            request = prepare_request(tool, arguments, self.env, call_id)
            work = asyncio.ensure_future(send_request(tool, request, self.env))
        record.overhead_s += time.perf_counter() - mark
        waited = time.perf_counter()
        try:
            payload = await self._with_filler(work, context, cancellable=tool.effect == "read")
        finally:
            record.request_s = time.perf_counter() - waited
        mark = time.perf_counter()
        result = map_response(tool, payload)
        record.overhead_s += time.perf_counter() - mark
        return result

    async def _with_filler(self, task: Any, context: RunContext, *, cancellable: bool) -> Any:
        """Await the request; say the filler once if it runs long; a read is cancelled when
        the user interrupts (a write is awaited whatever happens)."""
        handle = context.speech_handle
        threshold = self.config.filler_after_seconds
        if threshold is not None and handle.id not in self.env._filler_spoken:
            done, _ = await asyncio.wait({task}, timeout=threshold)
            if not done and not handle.interrupted:
                self.env._filler_spoken.add(handle.id)
                with contextlib.suppress(RuntimeError):  # the session is closing
                    context.session.say(self.config.filler_text, add_to_chat_ctx=False)
        if cancellable:
            await handle.wait_if_not_interrupted([task])
            if not task.done():
                task.cancel()
                raise ToolCancelled(f"{self.tool.name} was cancelled: the user interrupted")
        return await task


def build_tools(config: ToolsConfig, *, env: ToolEnvironment, host: ToolHost) -> list[llm.Tool]:
    """The configured tools of kinds this module runs (MCP servers and agent handoffs are
    built by their own modules)."""
    tools: list[llm.Tool] = []
    for tool in config.tools:
        if not isinstance(tool, HTTPTool | EndCallTool | TransferCallTool | SendDtmfTool):
            continue
        runner = ToolRunner(tool, config=config, env=env, host=host)

        async def call(
            raw_arguments: dict[str, Any], context: RunContext, _runner: ToolRunner = runner
        ) -> str | None:
            return await _runner(raw_arguments, context)

        tools.append(function_tool(call, raw_schema=raw_schema(tool)))
    return tools


# --- a session's environment (synchronous ORM; the worker wraps it in sync_to_async) -------


def tool_environment_for(
    *, tenant_id: int | None, document: Any, session_id: str
) -> ToolEnvironment:
    """The secrets the document's tools name (decrypted, for this session only) and the
    SIP transfer for phone sessions. Synchronous ORM (only when the tools name secrets)."""
    from worker.store import session_secret_values

    secrets = (
        session_secret_values(tenant_id, [document.to_dict()]) if tenant_id is not None else {}
    )
    return session_tool_environment(secrets=secrets, session_id=session_id)


def session_tool_environment(*, secrets: dict[str, str], session_id: str) -> ToolEnvironment:
    """A session's tool environment from secrets already loaded (the job reads them with
    the session: ``worker.store.LoadedSession.secrets``)."""
    return ToolEnvironment(secrets=secrets, session_id=session_id, transfer=transfer_phone_call)


def _transfer_phone_call(session_id: str, number: str) -> None:
    from django.db import close_old_connections

    from sessions_app.telephony.models import PhoneCall
    from sessions_app.telephony.services import call_transfer

    close_old_connections()
    call = PhoneCall.objects.select_related("session").filter(session_id=session_id).first()
    if call is None:
        raise ToolError("transfer_call only works on phone calls; this is not one")
    try:
        call_transfer(call=call, to=number)
    except Exception as exc:  # noqa: BLE001 - the model hears why (no secret in it)
        raise ToolError(f"the transfer failed: {exc}") from None


async def transfer_phone_call(session_id: str, number: str) -> None:
    """SIP transfer of the session's phone participant (``sessions_app.telephony``)."""
    from asgiref.sync import sync_to_async

    await sync_to_async(_transfer_phone_call, thread_sensitive=True)(session_id, number)
