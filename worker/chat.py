"""The playground's text chat: talk to an agent's draft or a version in the browser without
LiveKit. Each POST carries one user message; the server runs the same agent as the worker
(``worker.textmode.TextConversation``: same factory, text mode) and streams the spoken text
and then the structured turn back as Server-Sent Events (or answers with one JSON body).

Why SSE over a plain streaming response: the web server is gunicorn with threaded workers
(``config.processes web``, the quick start too), which writes a ``StreamingHttpResponse``
chunk by chunk; SSE needs no ASGI server, WebSocket upgrade or second process, keeps the
Django session, CSRF and login as they are, and a turn holds one worker thread for at most
``TURN_TIMEOUT_S``. The page reads the events from ``fetch`` (``EventSource`` cannot POST).

The conversation so far (what the LLM saw, hidden fields included) is kept in the user's
Django session, per agent and version, so it never reaches the page; the page receives the
turn message of ``llm-structured-response`` (hidden fields removed). Lives in ``worker`` as
it runs the agent (``sessions_app`` must not import ``worker``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.http import require_POST

from agents_config.contracts import AgentDocument, ContractError, parse_document
from agents_config.providers import ProviderConfigError, ProviderKeys
from agents_config.selectors import agent_draft_document, agent_version_by_label
from agents_config.versioning import DRAFT
from sessions_app.playground import playground_agent
from tenants.platform import json_input
from worker.textmode import TextConversation

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
TURN_TIMEOUT_S = 60.0


def _error(status: int, code: str, message: str, fields: dict | None = None) -> JsonResponse:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    return JsonResponse(body, status=status)


def _document(agent: Any, version: str) -> tuple[AgentDocument, str]:
    """The agent's draft, a published version or (empty) the live one; ``ContractError``."""
    if version == DRAFT:
        return parse_document(agent_draft_document(agent)), DRAFT
    found = agent_version_by_label(agent=agent, version=version) if version else None
    found = found or (None if version else agent.published_version)
    if found is None:
        raise ContractError({"version": [f"{agent.agent_id} has no version {version!r}."]})
    return parse_document(found.document), found.version


class TurnRun:
    """One turn of a text conversation on its own event loop, driven from the request thread
    event by event, so a WSGI response can stream while the agent is still answering.

    Events: ``("text", chunk)`` for each chunk of spoken text, then ``("record", record)``,
    or ``("error", (status, code, message))``; ``next_event`` returns None after the last one.
    No thread is started: the loop only runs while the response asks for the next event.
    """

    def __init__(
        self, document: AgentDocument, label: str, keys: ProviderKeys, history: Any, text: str
    ) -> None:
        self.history: dict[str, Any] | None = None
        self._loop = asyncio.new_event_loop()
        self._events: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue()
        self._task = self._loop.create_task(self._run(document, label, keys, history, text))
        self._closed = False

    async def _run(
        self, document: AgentDocument, label: str, keys: ProviderKeys, history: Any, text: str
    ) -> None:
        def on_text(chunk: str) -> None:
            self._events.put_nowait(("text", chunk))

        try:
            async with TextConversation(
                document=document, version=label, keys=keys, history=history, on_text=on_text
            ) as conversation:
                record = await asyncio.wait_for(conversation.say(text), timeout=TURN_TIMEOUT_S)
                self.history = conversation.chat_history()
            self._events.put_nowait(("record", record))
        except ProviderConfigError as exc:
            self._events.put_nowait(("error", (400, "provider_config", str(exc))))
        except TimeoutError:
            timeout = (504, "timeout", "The agent did not answer in time.")
            self._events.put_nowait(("error", timeout))
        except Exception:  # shown to the page as a failed turn, logged here
            logger.exception("the playground's text chat failed")
            self._events.put_nowait(("error", (502, "failed", "The agent failed to answer.")))
        finally:
            self._events.put_nowait(None)

    def next_event(self) -> tuple[str, Any] | None:
        """Run the loop until the next event (None once the turn is over)."""
        if self._closed:
            return None
        event = self._loop.run_until_complete(self._events.get())
        if event is None:
            self.close()
        return event

    def close(self) -> None:
        """Finish (or cancel, when the browser went away) the turn and close the loop."""
        if self._closed:
            return
        self._closed = True
        if not self._task.done():
            self._task.cancel()
        try:
            self._loop.run_until_complete(asyncio.gather(self._task, return_exceptions=True))
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.run_until_complete(self._loop.shutdown_default_executor())
        finally:
            self._loop.close()


def _sse(event: str, data: dict[str, Any]) -> bytes:
    """One Server-Sent Event (JSON data on one line)."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _wants_stream(request: HttpRequest) -> bool:
    return "text/event-stream" in request.headers.get("Accept", "")


@login_required
@require_POST
def chat_turn(request: HttpRequest, agent_id: str) -> HttpResponse:
    """``{"message", "version": ""|"draft"|"X.Y.Z", "tenant", "reset"}`` → the agent's turn.

    With ``Accept: text/event-stream`` the answer streams as Server-Sent Events: ``text``
    (``{"delta"}``, the spoken text as the LLM writes it), then ``turn`` (``{"version",
    "turn"}``, the structured turn) or ``error`` (``{"error"}``). Without it: one JSON body.
    Errors found before the agent starts (bad body, unknown agent, provider set-up) are JSON
    4xx either way.
    """
    try:
        body = json_input.loads(request.body or b"{}")
    except json_input.UnsafeJSON as exc:  # too deep, NaN, lone surrogates: the shared limits
        return _error(400, "invalid", "The body is not acceptable JSON.", exc.errors)
    except ValueError:  # not JSON (or not UTF-8)
        return _error(400, "invalid", "The body is not JSON.")
    if not isinstance(body, dict):
        return _error(400, "invalid", "The body must be a JSON object.")
    text = str(body.get("message") or "").strip()
    if not text or len(text) > MAX_MESSAGE_CHARS:
        return _error(
            400,
            "invalid",
            "Type a message.",
            {"message": [f"Required, at most {MAX_MESSAGE_CHARS} characters."]},
        )
    item = playground_agent(
        user=request.user, agent_id=agent_id, tenant_slug=str(body.get("tenant") or "")
    )
    if item is None:
        return _error(404, "not_found", "No such agent in your tenants.")
    agent = item.agent
    try:
        document, label = _document(agent, str(body.get("version") or "").strip())
    except ContractError as exc:
        return _error(400, "invalid", "The configuration cannot run.", exc.errors)
    key = f"playground-chat:{agent.pk}:{label}"
    reset = bool(body.get("reset"))
    history = None if reset else request.session.get(key)
    run = TurnRun(document, label, ProviderKeys.for_tenant(agent.tenant_id), history, text)

    def finished(record: Any) -> dict[str, Any]:
        """Keep the conversation in the Django session; the turn message for the page."""
        fresh = reset or f"{key}:id" not in request.session
        turns = 1 if fresh else request.session.get(f"{key}:turns", 0) + 1
        if fresh:
            request.session[f"{key}:id"] = uuid.uuid4().hex[:12]
        request.session[key] = run.history
        request.session[f"{key}:turns"] = turns
        conversation_id = request.session[f"{key}:id"]
        message = record.message(session_id=f"chat-{conversation_id}", agent_id=agent.agent_id)
        message["turn"] = turns
        message["user_text"] = text
        return {"version": label, "turn": message}

    event = run.next_event()
    chunks: list[str] = []
    if not _wants_stream(request) or (event is not None and event[0] == "error"):
        while event is not None and event[0] == "text":
            chunks.append(event[1])
            event = run.next_event()
        run.close()
        if event is None or event[0] == "error":
            status, code, message = event[1] if event else (502, "failed", "No answer.")
            return _error(status, code, message)
        if event[1] is None:
            return _error(502, "no_turn", "The agent did not answer.")
        return JsonResponse(finished(event[1]))

    def stream() -> Iterator[bytes]:
        current = event
        try:
            yield b": the agent is answering\n\n"  # headers and a first byte go out now
            while current is not None:
                kind, value = current
                if kind == "text":
                    yield _sse("text", {"delta": value})
                elif kind == "error":
                    _status, code, message = value
                    yield _sse("error", {"error": {"code": code, "message": message}})
                elif value is None:
                    yield _sse("error", {"error": {"code": "no_turn", "message": "No answer."}})
                else:
                    data = finished(value)
                    request.session.save()  # the middleware saved before the stream began
                    yield _sse("turn", data)
                current = run.next_event()
        finally:
            run.close()

    response = StreamingHttpResponse(stream(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy in front must not hold the events back
    return response
