"""Provider keys per tenant (encrypted at rest, environment fallback) and the pinned version
the worker loads for a session."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import ImproperlyConfigured

from agents_config.services import agent_publish, agent_update_sections
from sessions_app.models import Session
from tenants.models import ProviderCredential
from tenants.secrets import provider_api_key
from tenants.services import credential_set
from worker import store

pytestmark = pytest.mark.django_db


def test_tenant_key_is_encrypted_at_rest_and_preferred(tenant, other_tenant, settings):
    settings.OPENAI_API_KEY = "sk-environment"
    credential_set(tenant=tenant, provider="openai", value="sk-tenant-secret")
    stored = ProviderCredential.objects.get(tenant=tenant)
    assert "sk-tenant-secret" not in stored.encrypted_value
    assert provider_api_key(tenant_id=tenant.id, provider="openai") == "sk-tenant-secret"
    assert provider_api_key(tenant_id=other_tenant.id, provider="openai") == "sk-environment"


@pytest.mark.parametrize("provider", ["anthropic", "cartesia", "together", "groq", "openrouter"])
def test_every_named_provider_has_per_tenant_keys(provider, tenant, other_tenant, settings):
    from agents_config.providers import ProviderKeys, extra_provider_keys

    setattr(settings, f"{provider.upper()}_API_KEY", f"{provider}-environment")
    credential_set(tenant=tenant, provider=provider, value=f"{provider}-tenant")
    ProviderCredential.objects.get(tenant=tenant, provider=provider).full_clean()  # a choice
    for tenant_id, expected in ((tenant.id, "tenant"), (other_tenant.id, "environment")):
        built = ProviderKeys(
            **extra_provider_keys(
                lambda name, tid=tenant_id: provider_api_key(tenant_id=tid, provider=name)
            )
        )
        assert built.for_credential(provider) == f"{provider}-{expected}"


def test_storing_without_encryption_key_names_the_setting(tenant, settings):
    settings.SECRETS_ENCRYPTION_KEY = ""
    with pytest.raises(ImproperlyConfigured, match="SECRETS_ENCRYPTION_KEY"):
        credential_set(tenant=tenant, provider="deepgram", value="dg")


def test_undecryptable_key_falls_back_to_environment(tenant, settings):
    credential_set(tenant=tenant, provider="deepgram", value="dg-tenant")
    settings.DEEPGRAM_API_KEY = "dg-env"
    settings.SECRETS_ENCRYPTION_KEY = "bm90LXRoZS1zYW1lLWtleS1hdC1hbGwtMzJieXRlcyE="
    assert provider_api_key(tenant_id=tenant.id, provider="deepgram") == "dg-env"


def test_admin_never_shows_the_key(admin_client, tenant):
    credential_set(tenant=tenant, provider="openai", value="sk-visible?")
    credential = ProviderCredential.objects.get(tenant=tenant)
    page = admin_client.get(f"/admin/tenants/providercredential/{credential.pk}/change/")
    assert page.status_code == 200
    assert b"sk-visible?" not in page.content
    assert credential.encrypted_value.encode() not in page.content


@pytest.mark.django_db(transaction=True)  # the loader closes stale connections, like a job
def test_session_loads_its_pinned_version_while_a_newer_one_is_live(published_agent):
    session = Session.objects.create(
        tenant=published_agent.tenant,
        agent=published_agent,
        agent_version=published_agent.published_version,
        agent_slug=published_agent.agent_id,
        version_label="1.0.0",
        user_id="u",
    )
    prompt = dict(published_agent.prompt_config, instructions="NEW PROMPT")
    agent_update_sections(agent=published_agent, partial={"prompt_config": prompt})
    agent_publish(agent=published_agent, version="2.0.0")

    loaded = async_to_sync(store.load_session)(str(session.id))
    assert loaded.version_label == "1.0.0"
    assert "NEW PROMPT" not in loaded.document["prompt_config"]["instructions"]


@pytest.mark.django_db(transaction=True)
def test_closed_or_unknown_sessions_are_unavailable(published_agent):
    with pytest.raises(store.SessionUnavailable):
        async_to_sync(store.load_session)("not-a-uuid")
    session = Session.objects.create(
        tenant=published_agent.tenant,
        agent=published_agent,
        agent_version=published_agent.published_version,
        agent_slug=published_agent.agent_id,
        version_label="1.0.0",
        user_id="u",
        status="ended",
    )
    with pytest.raises(store.SessionUnavailable, match="ended"):
        async_to_sync(store.load_session)(str(session.id))


def test_admin_shows_turn_latency_percentiles(admin_client, published_agent):
    from sessions_app.selectors import agent_turn_latency
    from sessions_app.services import turn_record

    session = Session.objects.create(
        tenant=published_agent.tenant,
        agent=published_agent,
        agent_version=published_agent.published_version,
        agent_slug=published_agent.agent_id,
        version_label="1.0.0",
        user_id="u",
    )
    for ms in range(1, 11):
        turn_record(
            session=session,
            user_text="hi",
            spoken_text="hello",
            structured_output={},
            validation_errors=[],
            first_spoken_ms=ms * 100.0,
            tts_ttfb_ms=ms * 10.0,
        )
    stats = agent_turn_latency(agent=published_agent)
    assert stats["first_spoken_ms"] == {"p50": 500.0, "p90": 900.0, "count": 10}
    assert stats["tts_ttfb_ms"]["p90"] == 90.0
    page = admin_client.get(f"/admin/agents_config/agent/{published_agent.pk}/change/")
    assert b"first spoken text: p50 500 ms, p90 900 ms (10 turns)" in page.content
    assert session.turns.count() == 10
    assert list(session.turns.values_list("index", flat=True)) == list(range(1, 11))


@pytest.mark.parametrize("key", ["", "not-a-fernet-key"])
def test_admin_forms_name_a_missing_encryption_key_instead_of_failing(
    admin_client, tenant, settings, key
):
    settings.SECRETS_ENCRYPTION_KEY = key
    credential = admin_client.post(
        "/admin/tenants/providercredential/add/",
        {"tenant": tenant.pk, "provider": "openai", "value": "sk-new"},
    )
    assert credential.status_code == 200
    assert "SECRETS_ENCRYPTION_KEY" in credential.content.decode()
    assert not ProviderCredential.objects.exists()
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    webhook = admin_client.post(
        "/admin/tenants/webhookendpoint/add/",
        {"tenant": tenant.pk, "url": "http://127.0.0.1:9/x", "events": ["session.ended"]},
    )
    assert webhook.status_code == 200
    assert "SECRETS_ENCRYPTION_KEY" in webhook.content.decode()
