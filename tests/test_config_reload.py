"""Config changes are pushed to listeners over Redis pub/sub, and survive reconnects."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from agents_config import services
from agents_config.config_broadcast import ConfigChangeListener, config_channel, publish_change
from agents_config.selectors import agent_draft_document


def _close_db() -> None:
    connection.close()  # the sync_to_async thread's connection, so teardown can drop the DB


async def _listen_until(listener: ConfigChangeListener, received: list, count: int) -> None:
    for _ in range(100):
        if len(received) >= count:
            return
        await asyncio.sleep(0.05)


@pytest.mark.django_db(transaction=True)
async def test_publish_rollback_enable_and_toggle_reach_a_listener(agent):
    received: list[dict] = []
    listener = ConfigChangeListener(settings.REDIS_URL, received.append)
    task = asyncio.create_task(listener.run())
    await asyncio.wait_for(listener.connected.wait(), 5)

    started = time.time()
    v1 = await sync_to_async(services.agent_publish)(agent=agent, version="1.0.0")
    await _listen_until(listener, received, 1)
    assert received[0]["action"] == "published" and received[0]["version"] == "1.0.0"
    assert received[0]["agent_id"] == agent.agent_id
    assert received[0]["sent_at"] - started < 1.0

    document = await sync_to_async(agent_draft_document)(agent)
    document["llm_config"]["temperature"] = 0.2
    await sync_to_async(services.agent_update_draft)(agent=agent, data=document)
    await sync_to_async(services.agent_publish)(agent=agent)
    await sync_to_async(services.agent_rollback)(agent=agent, to_version=v1)
    await sync_to_async(services.agent_set_enabled)(agent=agent, enabled=False)
    await _listen_until(listener, received, 4)
    assert [r["action"] for r in received] == ["published", "published", "rollback", "disabled"]
    listener.stop()
    await asyncio.wait_for(task, 5)
    await sync_to_async(_close_db)()


async def test_listener_reconnects_and_revalidates():
    received: list[dict] = []
    revalidated: list[bool] = []
    listener = ConfigChangeListener(
        settings.REDIS_URL, received.append, lambda: revalidated.append(True), max_backoff=0.2
    )
    task = asyncio.create_task(listener.run())
    await asyncio.wait_for(listener.connected.wait(), 5)
    admin = redis.Redis.from_url(settings.REDIS_URL)
    # Drop our subscriber connection server-side, as a Redis restart or network cut would.
    for client in admin.client_list(_type="pubsub"):
        admin.client_kill_filter(_id=client["id"])
    for _ in range(100):
        if revalidated:
            break
        await asyncio.sleep(0.05)
    assert revalidated and listener.reconnects == 1
    await asyncio.wait_for(listener.connected.wait(), 5)
    admin.publish(config_channel(1, "x"), '{"action": "published", "agent_id": "x"}')
    admin.publish(config_channel(1, "x"), "not json")
    await _listen_until(listener, received, 1)
    assert received == [{"action": "published", "agent_id": "x"}]
    listener.stop()
    await asyncio.wait_for(task, 5)


async def test_channels_are_per_deployment_and_per_agent(settings):
    """Deployments sharing a Redis don't get each other's changes; a job hears its agent only."""
    settings.DEPLOYMENT_NAME = "blue"
    everything: list[dict] = []
    own_agent: list[dict] = []
    listeners = [
        ConfigChangeListener(settings.REDIS_URL, everything.append),
        ConfigChangeListener(
            settings.REDIS_URL, own_agent.append, channel=config_channel(7, "mine")
        ),
    ]
    tasks = [asyncio.create_task(listener.run()) for listener in listeners]
    for listener in listeners:
        await asyncio.wait_for(listener.connected.wait(), 5)
    settings.DEPLOYMENT_NAME = "green"  # another deployment on the same Redis
    publish_change(tenant_id=7, agent_id="mine", action="published", version="9.9.9")
    settings.DEPLOYMENT_NAME = "blue"
    publish_change(tenant_id=7, agent_id="other", action="published", version="1.0.1")
    publish_change(tenant_id=7, agent_id="mine", action="published", version="1.0.2")
    await _listen_until(listeners[0], everything, 2)
    await _listen_until(listeners[1], own_agent, 1)
    await asyncio.sleep(0.2)
    assert [c["version"] for c in everything] == ["1.0.1", "1.0.2"]
    assert [c["version"] for c in own_agent] == ["1.0.2"]
    assert config_channel(7, "mine") == "blue:config-changes:7:mine"
    for listener in listeners:
        listener.stop()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
