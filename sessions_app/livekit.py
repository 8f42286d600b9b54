"""The LiveKit server edge: rooms, agent dispatch and participant tokens (livekit-api).

Only this module talks to the LiveKit server. Calls are synchronous wrappers over the async
client so Celery tasks stay plain functions; errors are classified as transient (retry) or
permanent (fail the session).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from livekit import api

# The room's data topics: the wire contract between the worker and every frontend.
TURN_TOPIC = "llm-structured-response"
"""Finished structured turns (hidden fields removed)."""
CONFIG_TOPIC = "config-update"
"""Hot-reload notices: a new version applies from the next turn."""
CHAT_TOPIC = "lk.chat"
"""LiveKit Agents' default text input topic."""


class LiveKitError(Exception):
    """A LiveKit call failed; ``transient`` says whether retrying may help."""

    def __init__(self, message: str, *, transient: bool):
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class RoomSpec:
    name: str
    metadata: dict[str, Any]
    empty_timeout: int
    max_participants: int


def livekit_configured() -> bool:
    return bool(settings.LIVEKIT_URL and settings.LIVEKIT_API_KEY and settings.LIVEKIT_API_SECRET)


def _credentials() -> tuple[str, str, str]:
    missing = [
        name
        for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
        if not getattr(settings, name)
    ]
    if missing:
        raise ImproperlyConfigured(f"LiveKit is not configured: set {', '.join(missing)}.")
    return settings.LIVEKIT_URL, settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET


def participant_token(*, identity: str, room_name: str, name: str = "") -> str:
    """A join token for one room (identity = the end user's id, TTL from settings)."""
    _, key, secret = _credentials()
    token = (
        api.AccessToken(key, secret)
        .with_identity(identity)
        .with_name(name or identity)
        .with_ttl(timedelta(seconds=settings.LIVEKIT_TOKEN_TTL_SECONDS))
        .with_grants(
            api.VideoGrants(
                room_join=True,
                room=room_name,
                can_publish=True,
                can_subscribe=True,
                can_publish_data=True,
            )
        )
    )
    return token.to_jwt()


async def _call(coro_factory: Any) -> Any:
    url, key, secret = _credentials()
    timeout = aiohttp.ClientTimeout(total=10)
    async with api.LiveKitAPI(url, key, secret, timeout=timeout, failover=False) as client:
        try:
            return await coro_factory(client)
        except api.TwirpError as exc:
            transient = exc.status >= 500 or exc.code in ("unavailable", "resource_exhausted")
            raise LiveKitError(f"LiveKit {exc.code}: {exc.message}", transient=transient) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise LiveKitError(
                f"LiveKit unreachable: {type(exc).__name__}: {exc}", transient=True
            ) from exc


def _run(coro_factory: Any) -> Any:
    return asyncio.run(_call(coro_factory))


def ensure_room_with_agent(room: RoomSpec, *, agent_name: str, job_metadata: dict) -> None:
    """Create the room and dispatch the agent, both idempotently (safe to run twice)."""

    async def work(client: api.LiveKitAPI) -> None:
        await client.room.create_room(
            api.CreateRoomRequest(
                name=room.name,
                empty_timeout=room.empty_timeout,
                max_participants=room.max_participants,
                metadata=json.dumps(room.metadata),
            )
        )
        existing = await client.agent_dispatch.list_dispatch(room_name=room.name)
        if any(dispatch.agent_name == agent_name for dispatch in existing):
            return
        await client.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(
                agent_name=agent_name, room=room.name, metadata=json.dumps(job_metadata)
            )
        )

    _run(work)


def delete_room(room_name: str) -> None:
    """Delete a room; a room that no longer exists counts as deleted."""

    async def work(client: api.LiveKitAPI) -> None:
        try:
            await client.room.delete_room(api.DeleteRoomRequest(room=room_name))
        except api.TwirpError as exc:
            if exc.code != "not_found":
                raise

    _run(work)
