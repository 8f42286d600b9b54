"""Test data builders for tenants (used by the test suite)."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from tenants.models import (
    ApiKey,
    AuditEvent,
    Membership,
    ProviderCredential,
    Tenant,
    WebhookDelivery,
    WebhookEndpoint,
)
from tenants.secrets import encrypt_secret
from tenants.services import api_key_create, membership_set, tenant_role_group


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pass-word-123")


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    name = factory.LazyAttribute(lambda t: t.slug.title())

    @factory.post_generation
    def role_groups(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            for role in ("admin", "developer", "viewer"):
                tenant_role_group(tenant=self, role=role)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = "viewer"

    @classmethod
    def _create(cls, model_class: type[Membership], *args: object, **kwargs: object) -> Membership:
        return membership_set(tenant=kwargs["tenant"], user=kwargs["user"], role=kwargs["role"])


def make_api_key(*, tenant: Tenant, name: str = "ci", role: str = "viewer") -> ApiKey:
    """An API key created through the real service (the raw key is discarded)."""
    return api_key_create(tenant=tenant, name=name, role=role).api_key


class AuditEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditEvent

    tenant = factory.SubFactory(TenantFactory)
    actor_label = "system"
    action = "agent.updated"
    target = factory.Sequence(lambda n: f"target-{n}")


class ProviderCredentialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProviderCredential
        skip_postgeneration_save = True

    tenant = factory.SubFactory(TenantFactory)
    provider = "openai"
    encrypted_value = factory.LazyFunction(lambda: encrypt_secret("sk-test-provider-key"))


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    """An endpoint stored without the save-time URL check (no DNS lookup in tests)."""

    class Meta:
        model = WebhookEndpoint

    tenant = factory.SubFactory(TenantFactory)
    url = factory.Sequence(lambda n: f"https://hooks-{n}.example.com/receive")
    encrypted_secret = factory.LazyFunction(lambda: encrypt_secret("whsec-test"))
    events = factory.LazyFunction(lambda: ["session.ended"])


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookDelivery

    endpoint = factory.SubFactory(WebhookEndpointFactory)
    event = "session.ended"
    payload = factory.LazyFunction(lambda: {"event": "session.ended", "data": {}})
