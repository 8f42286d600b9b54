"""Configuration change events, sent after the writing transaction commits.

Receivers (hot reload, webhooks) connect to ``agent_config_changed``; nothing is sent for a
transaction that rolls back.
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

# kwargs: tenant_pk, agent_id (slug), agent_pk, action, version (str | None).
# Naming across payloads: ``*_id`` is the public id (slug), ``*_pk`` the primary key.
agent_config_changed = Signal()


def emit_config_change(*, agent, action: str, version: str | None = None) -> None:
    payload = {
        "tenant_pk": agent.tenant_id,
        "agent_id": agent.agent_id,
        "agent_pk": agent.pk,
        "action": action,
        "version": version,
    }
    transaction.on_commit(lambda: agent_config_changed.send(sender=type(agent), **payload))
