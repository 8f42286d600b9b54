"""Shared fixtures: an owner, a member and an outsider for every isolation test."""

from __future__ import annotations

import pytest

from agents_config.factories import make_agent
from tenants.factories import MembershipFactory, TenantFactory, UserFactory


@pytest.fixture
def tenant(db):
    return TenantFactory()


@pytest.fixture
def other_tenant(db):
    return TenantFactory()


@pytest.fixture
def agent(tenant):
    return make_agent(tenant=tenant)


@pytest.fixture
def superuser(db):
    user = UserFactory(username="root-admin")
    user.is_staff = user.is_superuser = True
    user.save()
    return user


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def member_factory(db):
    """Staff users with a role in a tenant: ``member_factory(tenant, "developer")``."""

    def build(tenant, role):
        user = UserFactory()
        user.is_staff = True
        user.save()
        MembershipFactory(user=user, tenant=tenant, role=role)
        return user

    return build


@pytest.fixture
def livekit_server(settings):
    """A fake LiveKit Twirp server; settings point the platform at it."""
    from tests.fakes.livekit_server import FakeLiveKitServer

    with FakeLiveKitServer() as server:
        settings.LIVEKIT_URL = server.url
        settings.LIVEKIT_API_KEY = server.state.api_key
        settings.LIVEKIT_API_SECRET = server.state.api_secret
        yield server


@pytest.fixture
def published_agent(agent):
    from agents_config.services import agent_publish

    agent_publish(agent=agent, version="1.0.0")
    return agent
