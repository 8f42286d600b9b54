"""What every agent service shares: its domain errors, actor arguments and the row lock."""

from __future__ import annotations

from agents_config.models import Agent


class AgentConflict(Exception):
    """The write contradicts the current state (duplicate id, nothing to publish, ...)."""


class StaleRevision(Exception):
    """The draft changed since the caller read it (optimistic locking)."""


class OutboundURLForbidden(Exception):
    """The caller's role may not change outbound URLs (``fields`` names them); a 403."""

    def __init__(self, fields: dict[str, list[str]]):
        self.fields = fields
        super().__init__("; ".join(f"{path}: {' '.join(m)}" for path, m in fields.items()))


def _locked(agent: Agent) -> Agent:
    """The agent's row, locked until the transaction ends."""
    return (
        Agent.objects.select_for_update(of=("self",))
        .select_related("tenant", "published_version")
        .get(pk=agent.pk)
    )
