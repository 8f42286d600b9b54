"""Configuration change events, sent after the writing transaction commits.

Receivers (hot reload, webhooks) connect to ``agent_config_changed``; nothing is sent for a
transaction that rolls back.
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

# kwargs: tenant_id, agent_id (slug), agent_pk, action, version (str | None)
agent_config_changed = Signal()


def emit_config_change(*, agent, action: str, version: str | None = None) -> None:
    payload = {
        "tenant_id": agent.tenant_id,
        "agent_id": agent.agent_id,
        "agent_pk": agent.pk,
        "action": action,
        "version": version,
    }
    transaction.on_commit(lambda: agent_config_changed.send(sender=type(agent), **payload))
