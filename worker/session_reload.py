"""Live sessions follow configuration changes pushed over Redis (agents_config.config_broadcast).

Each job watches its own agent. On a change it tells the room (``config-update`` message
``{"type": "config_changed", "agent_id", "version", "action"}``) and, when the agent's reload
policy is ``apply`` and a new version went live, swaps the agent to it at the next turn
boundary. With ``keep`` (the default) the session stays on its pinned version.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)

LIVE_VERSION_ACTIONS = frozenset({"published", "rollback"})


class SessionReloader:
    def __init__(
        self,
        *,
        tenant_id: int,
        agent_id: str,
        policy: str,
        current_version: str,
        notify: Callable[[dict[str, Any]], Awaitable[None]],
        apply: Callable[[str], Awaitable[None]],
        live_version: Callable[[], Awaitable[str | None]],
    ) -> None:
        self.tenant_id = tenant_id
        self.agent_id = agent_id
        self.policy = policy
        self.version = current_version
        self._notify = notify
        self._apply = apply
        self._live_version = live_version

    async def on_change(self, change: dict[str, Any]) -> None:
        # ``tenant_pk``; ``tenant_id`` from platform processes older than that name.
        tenant = change.get("tenant_pk", change.get("tenant_id"))
        if tenant != self.tenant_id or change.get("agent_id") != self.agent_id:
            return
        action = str(change.get("action") or "")
        version = change.get("version")
        await self._notify(
            {
                "type": "config_changed",
                "agent_id": self.agent_id,
                "version": version,
                "action": action,
            }
        )
        applies = self.policy == "apply" and action in LIVE_VERSION_ACTIONS
        if applies and version and version != self.version:
            self.version = str(version)
            await self._apply(self.version)

    async def revalidate(self) -> None:
        """After a reconnect: a change may have been missed, so compare with the database."""
        live = await self._live_version()
        if live and live != self.version:
            logger.info("missed a config change while disconnected; live version is %s", live)
            await self.on_change(
                {
                    "tenant_pk": self.tenant_id,
                    "agent_id": self.agent_id,
                    "version": live,
                    "action": "published",
                }
            )
