"""Live sessions and pushed config changes: notices, keep vs apply, swap at a turn boundary."""

from __future__ import annotations

import json

from agents_config.contracts import parse_document
from agents_config.factories import agent_document
from tests.worker.conftest import build_factory, demo_turn
from tests.worker.test_worker_agent import start_session
from worker.agent import AgentBlueprint, resolve_variables
from worker.publisher import MemoryTurnPublisher
from worker.session_reload import SessionReloader


def reloader(policy: str, sent: list, applied: list, live: str | None = "1.0.0"):
    async def notify(message):
        sent.append(message)

    async def apply(version):
        applied.append(version)

    async def live_version():
        return live

    return SessionReloader(
        tenant_id=1,
        agent_id="officer",
        policy=policy,
        current_version="1.0.0",
        notify=notify,
        apply=apply,
        live_version=live_version,
    )


async def test_keep_policy_notifies_but_stays_pinned():
    sent, applied = [], []
    watcher = reloader("keep", sent, applied)
    await watcher.on_change(
        {"tenant_id": 1, "agent_id": "officer", "action": "published", "version": "1.1.0"}
    )
    await watcher.on_change(
        {"tenant_id": 2, "agent_id": "officer", "action": "published", "version": "9.0.0"}
    )  # another tenant's agent
    await watcher.on_change(
        {"tenant_id": 1, "agent_id": "other", "action": "published", "version": "9.0.0"}
    )
    assert sent == [
        {"type": "config_changed", "agent_id": "officer", "version": "1.1.0", "action": "published"}
    ]
    assert applied == []


async def test_apply_policy_swaps_on_new_live_versions_only():
    sent, applied = [], []
    watcher = reloader("apply", sent, applied, live="1.3.0")
    for action, version in [
        ("published", "1.1.0"),
        ("disabled", None),
        ("rollback", "1.2.0"),
        ("published", "1.2.0"),
    ]:
        await watcher.on_change(
            {"tenant_id": 1, "agent_id": "officer", "action": action, "version": version}
        )
    assert applied == ["1.1.0", "1.2.0"] and len(sent) == 4
    await watcher.revalidate()  # after a reconnect the database says 1.3.0 is live
    assert applied[-1] == "1.3.0"


async def test_scheduled_version_applies_at_the_next_turn(fake_openai):
    fake_openai.add(demo_turn("First question?"), demo_turn("Second question?"))
    factory = build_factory(fake_openai.base_url)
    publisher = MemoryTurnPublisher()
    session, agent, _ = await start_session(factory, publisher)
    raw = agent_document()
    raw["prompt_config"]["instructions"] = "You are the NEW officer {{ officer_name }}."
    raw["llm_config"]["base_url"] = fake_openai.base_url
    raw["version"] = "2.0.0"
    new_document = parse_document(raw)
    try:
        await (await session.run(user_input="Hello"))
        agent.schedule_blueprint(
            AgentBlueprint(
                document=new_document, version="2.0.0", variables=resolve_variables(new_document)
            )
        )
        await (await session.run(user_input="Next"))
        await agent.turns.flush()
    finally:
        await session.aclose()
    first, second = fake_openai.chat_requests[:2]
    assert "NEW officer" not in json.dumps(first["messages"])
    assert "NEW officer" in json.dumps(second["messages"])
    assert [r.version for r in agent.turns.records] == ["1.0.0", "2.0.0"]
    assert [m["version"] for m in publisher.messages] == ["1.0.0", "2.0.0"]


async def test_changes_name_the_tenant_by_tenant_pk_and_legacy_tenant_id_still_works():
    """Payloads say ``tenant_pk`` (``tenant_id`` is a slug elsewhere); messages from
    platform processes older than that name still carry the pk as ``tenant_id``."""
    sent, applied = [], []
    watcher = reloader("apply", sent, applied)
    await watcher.on_change(
        {"tenant_pk": 1, "agent_id": "officer", "action": "published", "version": "1.1.0"}
    )
    await watcher.on_change(
        {"tenant_pk": 2, "agent_id": "officer", "action": "published", "version": "9.0.0"}
    )
    await watcher.on_change(
        {"tenant_id": 1, "agent_id": "officer", "action": "published", "version": "1.2.0"}
    )
    assert applied == ["1.1.0", "1.2.0"]
