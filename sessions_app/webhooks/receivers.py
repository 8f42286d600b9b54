"""Signal receivers that turn agent and session events into webhook deliveries.

Every payload arrives in the signal (the report document included), so nothing here reads
another app's models.
"""

from __future__ import annotations

import logging
from typing import Any

from sessions_app.webhooks.services import (
    PUBLISH_ACTIONS,
    SESSION_STATUS_EVENTS,
    webhook_event_emit,
)
from tenants.models import WebhookEvent

logger = logging.getLogger(__name__)


def _emit_safely(**kwargs: Any) -> None:
    """A webhook problem must never break the write that triggered the event."""
    try:
        webhook_event_emit(**kwargs)
    except Exception:
        logger.exception("could not create webhook deliveries for %s", kwargs.get("event"))


def on_session_status_changed(sender: Any, **kwargs: Any) -> None:
    event = SESSION_STATUS_EVENTS.get(kwargs.get("to_status", ""))
    if event is None:
        return
    _emit_safely(
        tenant_id=kwargs["tenant_pk"],
        agent_id=kwargs.get("agent_id"),
        event=event,
        data={
            "session_id": kwargs["session_id"],
            "agent_id": kwargs.get("agent_id"),
            "version": kwargs.get("version"),
            "status": kwargs["to_status"],
            "previous_status": kwargs.get("from_status"),
            "reason": kwargs.get("reason", ""),
        },
    )


def on_session_report_ready(sender: Any, **kwargs: Any) -> None:
    if "report" not in kwargs:
        return
    _emit_safely(
        tenant_id=kwargs["tenant_pk"],
        agent_id=kwargs.get("agent_id"),
        event=WebhookEvent.SESSION_REPORT_READY,
        data={
            "session_id": kwargs["session_id"],
            "agent_id": kwargs.get("agent_id"),
            "version": kwargs.get("version"),
            "status": kwargs.get("status"),
            "report": kwargs["report"],
        },
    )


def on_agent_config_changed(sender: Any, **kwargs: Any) -> None:
    if kwargs.get("action") not in PUBLISH_ACTIONS:
        return
    _emit_safely(
        tenant_id=kwargs["tenant_pk"],
        agent_id=kwargs.get("agent_id"),
        event=WebhookEvent.AGENT_PUBLISHED,
        data={
            "agent_id": kwargs.get("agent_id"),
            "version": kwargs.get("version"),
            "action": kwargs["action"],
        },
    )
