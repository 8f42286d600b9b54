"""Draft awareness in the admin: the badge, the publish preview, versions and rollback."""

from __future__ import annotations

import pytest
from django.urls import reverse

from agents_config import services
from agents_config.models import AgentVersion
from agents_config.selectors import DraftState, agent_draft_state, agent_publish_preview

pytestmark = pytest.mark.django_db


def change_temperature(agent, value: float) -> None:
    services.agent_update_sections(agent=agent, partial={"llm_config": {"temperature": value}})
    agent.refresh_from_db()


def test_draft_state_follows_the_live_checksum(agent):
    assert agent_draft_state(agent) == DraftState.NEVER_PUBLISHED
    services.agent_publish(agent=agent, version="1.0.0")
    agent.refresh_from_db()
    assert agent_draft_state(agent) == DraftState.IN_SYNC
    change_temperature(agent, 0.1)
    assert agent_draft_state(agent) == DraftState.UNPUBLISHED
    agent.llm_config = {**agent.llm_config, "temperature": 9}
    assert agent_draft_state(agent) == DraftState.INVALID


def test_badge_on_the_list_and_the_change_page(admin_client, agent):
    services.agent_publish(agent=agent, version="1.0.0")
    change_temperature(agent, 0.1)
    listing = admin_client.get(reverse("admin:agents_config_agent_changelist"))
    assert 'data-state="unpublished changes"' in listing.content.decode()
    page = admin_client.get(reverse("admin:agents_config_agent_change", args=[agent.pk]))
    body = page.content.decode()
    assert 'class="draft-state"' in body and "unpublished changes" in body


def test_publish_page_shows_live_next_and_the_diff(admin_client, agent):
    services.agent_publish(agent=agent, version="1.0.0", note="first cut")
    change_temperature(agent, 0.1)
    preview = agent_publish_preview(agent)
    assert preview["live"].version == "1.0.0"
    assert preview["next"] == {"minor": "1.1.0", "patch": "1.0.1", "major": "2.0.0"}
    assert [c.path for c in preview["changes"]] == ["llm_config.temperature"]
    page = admin_client.get(reverse("admin:agents_config_agent_publish", args=[agent.pk]))
    body = page.content.decode()
    assert "first cut" in body and "1.1.0" in body
    assert "<code>llm_config.temperature</code>" in body


def test_version_list_marks_the_live_one_and_rollback_skips_it(admin_client, agent):
    services.agent_publish(agent=agent, version="1.0.0", note="first cut")
    change_temperature(agent, 0.1)
    services.agent_publish(agent=agent, version="1.1.0", note="cooler")
    listing = admin_client.get(reverse("admin:agents_config_agentversion_changelist"))
    body = listing.content.decode()
    assert "first cut" in body and "cooler" in body
    assert body.count('alt="True"') == 1  # the live version's mark
    rollback = admin_client.get(reverse("admin:agents_config_agent_rollback", args=[agent.pk]))
    offered = [v.version for v in rollback.context["form"].fields["version"].queryset]
    assert offered == ["1.0.0"]
    assert AgentVersion.objects.filter(agent=agent).count() == 2
