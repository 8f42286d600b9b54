"""The playground's text chat: talk to an agent's draft or a version in the browser without
LiveKit. Each POST carries one user message; the server runs the same agent as the worker
(``worker.textmode.TextConversation``: same factory, text mode) and answers with the turn.

The conversation so far (what the LLM saw, hidden fields included) is kept in the user's
Django session, per agent and version, so it never reaches the page; the page receives the
turn message of ``llm-structured-response`` (hidden fields removed). Lives in ``worker`` as
it runs the agent (``sessions_app`` must not import ``worker``).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from agents_config.contracts import AgentDocument, ContractError, parse_document
from agents_config.providers import ProviderConfigError, ProviderKeys
from agents_config.selectors import agent_draft_document, agent_version_by_label
from agents_config.versioning import DRAFT
from sessions_app.playground import playground_agent
from tenants.platform import json_input
from worker.textmode import TextConversation

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


async def _say(
    document: AgentDocument, label: str, keys: ProviderKeys, history: Any, text: str
) -> tuple[Any, dict[str, Any]]:
    async with TextConversation(
        document=document, version=label, keys=keys, history=history
    ) as conversation:
        record = await asyncio.wait_for(conversation.say(text), timeout=TURN_TIMEOUT_S)
        return record, conversation.chat_history()


@login_required
@require_POST
def chat_turn(request: HttpRequest, agent_id: str) -> JsonResponse:
    """``{"message", "version": ""|"draft"|"X.Y.Z", "tenant", "reset"}`` → the agent's turn."""
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
    history = None if body.get("reset") else request.session.get(key)
    keys = ProviderKeys.for_tenant(agent.tenant_id)
    try:
        record, history = asyncio.run(_say(document, label, keys, history, text))
    except ProviderConfigError as exc:
        return _error(400, "provider_config", str(exc))
    except TimeoutError:
        return _error(504, "timeout", "The agent did not answer in time.")
    fresh = bool(body.get("reset")) or f"{key}:id" not in request.session
    turns = 1 if fresh else request.session.get(f"{key}:turns", 0) + 1
    if fresh:
        request.session[f"{key}:id"] = uuid.uuid4().hex[:12]
    request.session[key] = history
    request.session[f"{key}:turns"] = turns
    if record is None:
        return _error(502, "no_turn", "The agent did not answer.")
    conversation_id = request.session[f"{key}:id"]
    message = record.message(session_id=f"chat-{conversation_id}", agent_id=agent.agent_id)
    message["turn"] = turns
    message["user_text"] = text
    return JsonResponse({"version": label, "turn": message})
