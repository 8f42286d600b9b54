"""Browser playground: pick an agent, start a session, talk to it and watch its turns.

The pages only read. Starting a session goes through the REST API from the browser
(``POST /api/v1/sessions`` with the Django session and CSRF token), so quotas, version pinning
and permissions stay where they are. What reaches the page about a schema never includes a
hidden field.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from guardian.shortcuts import get_objects_for_user

from agents_config.models import Agent
from agents_config.schema.grammar import FieldTypeError, parse_field_type
from agents_config.selectors import (
    agent_versions,
    agents_for_tenant,
    document_hidden_fields,
    document_schema_fields,
    without_hidden,
)
from sessions_app.livekit import CHAT_TOPIC, CONFIG_TOPIC, TURN_TOPIC
from sessions_app.models import Session
from sessions_app.selectors import hidden_fields_of
from tenants.models import Tenant
from tenants.roles import ACTION_PERMISSION, Action
from tenants.selectors import memberships_for_user


@dataclass(frozen=True)
class PlaygroundAgent:
    """An agent the user may talk to, with the tenant it belongs to."""

    agent: Agent
    tenant: Tenant


def playground_agents(*, user: AbstractBaseUser) -> list[PlaygroundAgent]:
    """Published, enabled agents of the user's tenants that the user may view."""
    perm = f"agents_config.{ACTION_PERMISSION[Action.READ]}"
    found: list[PlaygroundAgent] = []
    for membership in memberships_for_user(user=user).order_by("tenant__slug"):
        agents: QuerySet[Agent] = agents_for_tenant(tenant=membership.tenant).filter(
            enabled=True, published_version__isnull=False
        )
        visible = get_objects_for_user(user, perm, klass=agents, accept_global_perms=False)
        found.extend(
            PlaygroundAgent(agent=agent, tenant=membership.tenant)
            for agent in visible.order_by("name", "agent_id")
        )
    return found


def playground_agent(
    *, user: AbstractBaseUser, agent_id: str, tenant_slug: str = ""
) -> PlaygroundAgent | None:
    """The usable agent with that id (in the named tenant, else the first tenant that has it)."""
    for item in playground_agents(user=user):
        if item.agent.agent_id == agent_id and tenant_slug in ("", item.tenant.slug):
            return item
    return None


def render_kind(field_type: str, constraints: dict[str, Any]) -> dict[str, Any]:
    """How the page draws a field: its kind, literal choices, list item kind and bounds."""
    try:
        spec = parse_field_type(field_type)
    except FieldTypeError:
        return {"kind": "str"}
    kind: dict[str, Any] = {"kind": spec.kind}
    if spec.kind == "literal":
        kind["choices"] = list(spec.choices)
    if spec.kind == "list" and spec.item is not None:
        kind["item"] = spec.item.kind
        if spec.item.kind == "literal":
            kind["choices"] = list(spec.item.choices)
    if spec.kind in ("int", "float"):
        for bound in ("ge", "gt", "le", "lt"):
            if isinstance(constraints.get(bound), int | float):
                kind[bound] = constraints[bound]
    return kind


def visible_schema(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema fields of a configuration document as the page draws them, hidden ones
    left out entirely."""
    hidden = document_hidden_fields(document)
    visible = []
    for field in document_schema_fields(document):
        metadata = field.get("metadata") or {}
        if field["field_name"] in hidden:
            continue
        constraints = field.get("constraints") or {}
        visible.append(
            {
                "name": field["field_name"],
                "type": field["field_type"],
                "description": field.get("description", ""),
                "required": bool(field.get("required")),
                "spoken": bool(metadata.get("spoken")),
                "tts_instructions": bool(metadata.get("tts_instructions")),
                "render": render_kind(field["field_type"], constraints),
            }
        )
    return visible


def _page_config(
    *, tenant: Tenant, agent_id: str, version: str, document: dict[str, Any]
) -> dict[str, Any]:
    prompt = document.get("prompt_config") or {}
    return {
        "tenant": tenant.slug,
        "agent_id": agent_id,
        "version": version,
        "sessions_url": "/api/v1/sessions",
        "topics": {"turn": TURN_TOPIC, "config": CONFIG_TOPIC, "chat": CHAT_TOPIC},
        "schema": visible_schema(document),
        "user_detail_names": sorted((prompt.get("dynamic_vars") or {}).keys()),
    }


def _text_chat_url(agent_id: str) -> str | None:
    """The text chat's endpoint (routed by ``config.urls`` to ``worker.chat``), if any."""
    try:
        return reverse("playground-text-chat", args=[agent_id])
    except NoReverseMatch:
        return None


@login_required
def agent_list(request: HttpRequest) -> HttpResponse:
    agents = playground_agents(user=request.user)
    return render(request, "playground/agent_list.html", {"agents": agents})


@login_required
def agent_page(request: HttpRequest, agent_id: str) -> HttpResponse:
    item = playground_agent(
        user=request.user, agent_id=agent_id, tenant_slug=request.GET.get("tenant", "").strip()
    )
    if item is None:
        raise Http404("No such agent in your tenants, or it is not published and enabled.")
    live = item.agent.published_version
    assert live is not None  # playground_agents keeps published agents only
    config = _page_config(
        tenant=item.tenant,
        agent_id=item.agent.agent_id,
        version=live.version,
        document=live.document,
    )
    config["default_user_id"] = request.user.get_username()
    config["chat_url"] = _text_chat_url(item.agent.agent_id)
    config["chat_versions"] = [
        {"value": "", "label": f"live ({live.version})"},
        {"value": "draft", "label": "draft"},
        *(
            {"value": v.version, "label": v.version}
            for v in agent_versions(agent=item.agent).order_by("-major", "-minor", "-patch")
            if v.pk != live.pk
        ),
    ]
    context = {
        "agent": item.agent,
        "tenant": item.tenant,
        "version": live.version,
        "config": config,
        "livekit_configured": bool(settings.LIVEKIT_URL),
        "replay": False,
    }
    return render(request, "playground/agent.html", context)


def _may_view_session(user: AbstractBaseUser, session: Session) -> bool:
    if user.is_superuser:  # the session admin shows every session to superusers
        return True
    if not memberships_for_user(user=user).filter(tenant_id=session.tenant_id).exists():
        return False
    if session.agent is None:
        return False
    return user.has_perm(f"agents_config.{ACTION_PERMISSION[Action.READ]}", session.agent)


def replay_turns(session: Session) -> list[dict[str, Any]]:
    """The session's stored turns as the room messages the page receives (hidden fields
    removed), each with the user's text for the transcript."""
    hidden = hidden_fields_of(session)
    return [
        {
            "type": "structured_turn",
            "session_id": str(session.id),
            "agent_id": session.agent_slug,
            "version": turn.version_label,
            "turn": turn.index,
            "data": without_hidden(turn.structured_output, hidden),
            "spoken_text": turn.spoken_text,
            "user_text": turn.user_text,
            "valid": not turn.validation_errors,
            "errors": turn.validation_errors or [],
        }
        for turn in session.turns.order_by("index")
    ]


@login_required
def session_page(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    """A past session's transcript and turns, drawn by the same renderer as a live one."""
    session = (
        Session.objects.select_related("tenant", "agent", "agent_version")
        .filter(pk=session_id)
        .first()
    )
    if session is None or not _may_view_session(request.user, session):
        raise Http404("Session not found.")
    document = session.agent_version.document if session.agent_version else {}
    config = _page_config(
        tenant=session.tenant,
        agent_id=session.agent_slug,
        version=session.version_label,
        document=document,
    )
    config["replay_turns"] = replay_turns(session)
    context = {
        "agent": session.agent,
        "agent_name": document.get("name") or session.agent_slug,
        "tenant": session.tenant,
        "version": session.version_label,
        "session": session,
        "config": config,
        "replay": True,
    }
    return render(request, "playground/agent.html", context)
