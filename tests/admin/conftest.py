"""Two tenants with one object of every admin model each, and staff users around them.

``home`` is the tenant the users belong to (as admin, developer or viewer); ``foreign``
("Zeta…") is someone else's: none of its rows may ever be visible or writable. Every
foreign object's name carries ``FOREIGN_MARK`` so a page leaking one is easy to spot.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models import Model
from django.http import HttpResponse

from agents_config import services as agent_services
from agents_config.factories import AgentTestRunFactory, make_agent, make_test_case
from agents_config.models import VersionExperiment
from sessions_app.factories import SessionFactory, TurnFactory
from sessions_app.models import Budget, BudgetAlert, ModelPrice
from sessions_app.telephony.models import Campaign, OutboundTrunk, PhoneCall, PhoneNumber
from tenants.factories import (
    AuditEventFactory,
    MembershipFactory,
    ProviderCredentialFactory,
    TenantFactory,
    UserFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
    make_api_key,
)
from tenants.models import Tenant, TenantSecret
from tenants.secrets import encrypt_secret

FOREIGN_MARK = "zeta"


def page_text(response: HttpResponse) -> str:
    """A page's HTML, lowercased, without its CSRF tokens: random tokens may spell the mark
    by chance (one did, in CI), and they are not data."""
    html = response.content.decode()
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html).lower()


OUR_APPS = ("tenants", "agents_config", "sessions_app", "worker")

# Who asks: a role in the home tenant (or none), and whether they also hold every model
# permission of every app (view/add/change/delete) — which must not widen anything.
USER_KINDS = {
    "admin": ("admin", False),
    "developer": ("developer", False),
    "viewer": ("viewer", False),
    "admin+model-perms": ("admin", True),
    "viewer+model-perms": ("viewer", True),
    "no-membership+model-perms": (None, True),
}


@dataclass
class TenantObjects:
    tenant: Tenant
    objects: dict[str, Model] = field(default_factory=dict)  # model label -> one object

    def __getitem__(self, label: str) -> Any:
        return self.objects[label]


def populate(tenant: Tenant, mark: str) -> TenantObjects:
    """One row of every tenant model, named after ``mark``."""
    agent = make_agent(tenant=tenant, agent_id=f"{mark}-agent", name=f"{mark} agent")
    version = agent_services.agent_publish(agent=agent, note=f"{mark} release")
    session = SessionFactory(agent=agent, user_details={"name": f"{mark} end user"})
    TurnFactory(session=session, user_text=f"{mark} says hi")
    case = make_test_case(agent=agent, name=f"{mark} case")
    run = AgentTestRunFactory(case=case, triggered_by=f"{mark} runner")
    member = UserFactory(username=f"{mark}-member")
    membership = MembershipFactory(user=member, tenant=tenant, role="developer")
    endpoint = WebhookEndpointFactory(tenant=tenant, url=f"https://{mark}-hooks.example.com/in")
    budget = Budget.objects.create(
        tenant=tenant, monthly_limit_usd=Decimal("10"), closing_line=f"{mark} goodbye"
    )
    delivery = WebhookDeliveryFactory(endpoint=endpoint, payload={"data": {"mark": mark}})
    digits = "1" if mark == "home" else "2"  # one tenant per number
    number = PhoneNumber.objects.create(
        tenant=tenant, number=f"+4420790{digits}0000", agent=agent, over_quota_message=mark
    )
    trunk = OutboundTrunk.objects.create(
        tenant=tenant, address=f"{mark}.sip.example.com", numbers=[number.number]
    )
    call = PhoneCall.objects.create(
        session=session, tenant=tenant, direction="outbound", from_number=number.number,
        to_number=f"+4420791{digits}0000", end_reason=f"{mark} hung up",
    )  # fmt: skip
    campaign = Campaign.objects.create(tenant=tenant, name=f"{mark} campaign", agent=agent)
    objects = {
        "tenants.Tenant": tenant,
        "tenants.ApiKey": make_api_key(tenant=tenant, name=f"{mark}-key", role="admin"),
        "tenants.AuditEvent": AuditEventFactory(tenant=tenant, target=f"{mark}-target"),
        "tenants.Membership": membership,
        "tenants.ProviderCredential": ProviderCredentialFactory(tenant=tenant),
        "tenants.TenantSecret": TenantSecret.objects.create(
            tenant=tenant,
            name="crm_token",
            description=f"{mark} secret",
            encrypted_value=encrypt_secret("v"),
        ),
        "tenants.WebhookEndpoint": endpoint,
        "tenants.WebhookDelivery": delivery,
        "agents_config.Agent": agent,
        "agents_config.AgentVersion": version,
        "agents_config.AgentTestCase": case,
        "agents_config.AgentTestRun": run,
        "agents_config.VersionExperiment": VersionExperiment.objects.create(
            agent=agent, weights={version.version: 100}
        ),
        "sessions_app.Session": session,
        "sessions_app.PhoneNumber": number,
        "sessions_app.OutboundTrunk": trunk,
        "sessions_app.PhoneCall": call,
        "sessions_app.Campaign": campaign,
        "sessions_app.Budget": budget,
        "sessions_app.BudgetAlert": BudgetAlert.objects.create(
            budget=budget, period_start=dt.date(2025, 1, 1), spent_usd=Decimal("8")
        ),
        "sessions_app.ModelPrice": ModelPrice.objects.create(
            tenant=tenant,
            provider="openai",
            model=f"{mark}-model",
            metric="prompt_tokens",
            usd_per_million=Decimal("1"),
            effective_from=dt.date(2025, 1, 1),
        ),
    }
    return TenantObjects(tenant=tenant, objects=objects)


@dataclass
class World:
    home: TenantObjects
    foreign: TenantObjects


@pytest.fixture(scope="module")
def module_world(django_db_setup, django_db_blocker) -> Iterator[World]:
    """Built once per test module inside a transaction rolled back at its end; each test
    still runs in its own savepoint (the ``db`` fixture), so writes never leak between
    tests. Keeps the parametrized matrix fast."""
    with django_db_blocker.unblock(), transaction.atomic():
        home = TenantFactory(slug="home-co", name="Home Company")
        foreign = TenantFactory(slug=f"{FOREIGN_MARK}-corp", name=f"{FOREIGN_MARK.title()} Corp")
        yield World(home=populate(home, "home"), foreign=populate(foreign, FOREIGN_MARK))
        transaction.set_rollback(True)


@pytest.fixture
def world(module_world, db) -> World:
    return module_world


def grant_all_model_permissions(user: Any) -> None:
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=[*OUR_APPS, "auth", "django_celery_beat", "guardian"]
        )
    )


@pytest.fixture
def make_staff(world):
    """``make_staff("viewer+model-perms")``: a staff user of the kind (see USER_KINDS)."""

    def build(kind: str) -> Any:
        role, model_perms = USER_KINDS[kind]
        user = UserFactory(username=f"staff-{kind.replace('+', '-')}")
        user.is_staff = True
        user.save()
        if role is not None:
            MembershipFactory(user=user, tenant=world.home.tenant, role=role)
        if model_perms:
            grant_all_model_permissions(user)
        return user

    return build
