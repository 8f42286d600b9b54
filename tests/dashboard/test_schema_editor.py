"""The schema fields editor without a browser: new rows, the error summary, voice choices."""

from __future__ import annotations

import pytest
from django.urls import reverse

from agents_config.forms import AgentAdminForm
from agents_config.models import SchemaField
from tests.test_admin import change_form_data

pytestmark = pytest.mark.django_db


def test_a_new_row_starts_optional_after_the_existing_rows(admin_client, agent):
    response = admin_client.get(reverse("admin:agents_config_agent_change", args=[agent.pk]))
    empty = response.context["inline_admin_formsets"][0].formset.empty_form
    last = max(agent.schema_fields.values_list("position", flat=True))
    assert empty.initial["required"] is False
    assert empty.initial["position"] == last + 1


def test_a_row_without_a_position_goes_last_and_may_have_a_default(admin_client, agent):
    url = reverse("admin:agents_config_agent_change", args=[agent.pk])
    data = change_form_data(agent)
    index = int(data["schema_fields-TOTAL_FORMS"])
    data["schema_fields-TOTAL_FORMS"] = index + 1
    row = {"agent": agent.pk, "position": "", "field_name": "mood", "field_type": "str"}
    data.update({f"schema_fields-{index}-{k}": v for k, v in row.items()})
    data[f"schema_fields-{index}-default"] = '"calm"'
    assert admin_client.post(url, data).status_code == 302
    mood = SchemaField.objects.get(agent=agent, field_name="mood")
    assert (mood.required, mood.default, mood.position) == (False, "calm", index)


def test_row_errors_are_summarised_with_the_field_name(admin_client, agent):
    url = reverse("admin:agents_config_agent_change", args=[agent.pk])
    data = change_form_data(agent)
    data["schema_fields-1-default"] = '"hello"'  # system_response is required
    response = admin_client.post(url, data)
    assert response.status_code == 200
    summary = response.context["inline_admin_formsets"][0].formset.error_summary()
    assert summary and summary[0][0] == "system_response"
    body = response.content.decode()
    assert 'id="schema-error-summary"' in body and "only optional fields" in body


def test_openai_voices_are_a_choice_list(agent):
    form = AgentAdminForm(instance=agent)
    widget = form.fields["tts_config__voice"].widget
    assert {value for value, _ in widget.choices} >= {"ash", "alloy", "coral"}
    agent.tts_config = {**agent.tts_config, "provider": "deepgram", "voice": "aura-asteria-en"}
    form = AgentAdminForm(instance=agent)
    assert not hasattr(form.fields["tts_config__voice"].widget, "choices")
