"""Push configuration changes to every worker over Redis pub/sub (no polling).

Services emit ``agent_config_changed`` after their transaction commits; ``publish_change``
forwards it to the agent's channel, ``<DEPLOYMENT_NAME>:config-changes:<tenant pk>:<agent slug>``
(deployments sharing a Redis never see each other's changes; a job subscribes to its own
agent only). Workers run a ``ConfigChangeListener``: it hands each change
to a callback and, because pub/sub does not replay what was sent while a subscriber was
disconnected, calls ``on_reconnect`` after every reconnection so caches are re-validated.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings

logger = logging.getLogger(__name__)

CHANNEL_KIND = "config-changes"


def config_channel(tenant_id: int, agent_id: str) -> str:
    """The pub/sub channel of one agent's changes in this deployment."""
    return f"{settings.DEPLOYMENT_NAME}:{CHANNEL_KIND}:{tenant_id}:{agent_id}"


def config_channel_pattern() -> str:
    """A pattern matching every agent's channel of this deployment (for tools and benches)."""
    return f"{settings.DEPLOYMENT_NAME}:{CHANNEL_KIND}:*"


ChangeCallback = Callable[[dict[str, Any]], Awaitable[None] | None]


def publish_change(sender: Any = None, **payload: Any) -> None:
    """Signal receiver: publish one change event (never raises into the request)."""
    if not settings.REDIS_URL:
        return
    message = {k: v for k, v in payload.items() if k not in ("signal", "tenant_id")}
    # ``tenant_id`` (the pk) is the name before payloads said ``tenant_pk``; still accepted.
    message["tenant_pk"] = payload.get("tenant_pk", payload.get("tenant_id"))
    message["sent_at"] = time.time()
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
        channel = config_channel(message["tenant_pk"], message["agent_id"])
        client.publish(channel, json.dumps(message))
    except redis.RedisError:
        logger.exception("could not publish config change %s", message)


async def _maybe_await(result: Awaitable[None] | None) -> None:
    if inspect.isawaitable(result):
        await result


class ConfigChangeListener:
    """Subscribes to ``channel`` (default: every agent of this deployment, by pattern) and
    keeps doing so across connection losses."""

    def __init__(
        self,
        url: str,
        on_change: ChangeCallback,
        on_reconnect: Callable[[], Awaitable[None] | None] | None = None,
        *,
        max_backoff: float = 10.0,
        channel: str | None = None,
    ):
        self.url = url
        self.channel = channel
        self.on_change = on_change
        self.on_reconnect = on_reconnect
        self.max_backoff = max_backoff
        self.connected = asyncio.Event()
        self.reconnects = 0
        self._stopping = False

    async def run(self) -> None:
        backoff = 0.2
        first = True
        while not self._stopping:
            client = aioredis.Redis.from_url(self.url)
            try:
                async with client.pubsub() as pubsub:
                    if self.channel is None:
                        await pubsub.psubscribe(config_channel_pattern())
                    else:
                        await pubsub.subscribe(self.channel)
                    self.connected.set()
                    if not first:
                        self.reconnects += 1
                        logger.info("config change listener reconnected; re-validating caches")
                        if self.on_reconnect is not None:
                            await _maybe_await(self.on_reconnect())
                    first, backoff = False, 0.2
                    while not self._stopping:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=1.0
                        )
                        if message is not None:
                            await self._handle(message["data"])
            except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as exc:
                self.connected.clear()
                if self._stopping:
                    break
                logger.warning(
                    "config change listener lost Redis (%s); retrying in %.1fs", exc, backoff
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
            finally:
                await client.aclose()

    async def _handle(self, data: bytes | str) -> None:
        try:
            change = json.loads(data)
        except (TypeError, ValueError):
            logger.warning("ignoring malformed config change message %r", data)
            return
        try:
            await _maybe_await(self.on_change(change))
        except Exception:  # a bad handler must not kill the listener
            logger.exception("config change handler failed for %s", change)

    def stop(self) -> None:
        self._stopping = True
