"""Create the demo tenant and the visa-interview officer agent, published as 1.0.0.

Idempotent: running it again changes nothing that exists. ``--admin`` also makes sure a local
superuser ``admin`` exists, sets a fresh random password and prints it (quick start only).
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from agents_config.demo_agent import DEMO_AGENT_ID, DEMO_TENANT_SLUG, demo_document
from agents_config.models import Agent
from agents_config.services import agent_create, agent_publish
from tenants.actors import Actor
from tenants.models import Tenant
from tenants.roles import Role
from tenants.services import membership_set, tenant_create

COMMAND = Actor.command("load_demo_agent")


class Command(BaseCommand):
    help = "Load the demo tenant and visa-interview officer agent (published as 1.0.0)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--admin",
            action="store_true",
            help="Ensure a superuser 'admin' with a new printed password.",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=DEMO_TENANT_SLUG).first()
        if tenant is None:
            tenant = tenant_create(
                slug=DEMO_TENANT_SLUG,
                name="Demo tenant",
                max_concurrent_sessions=10,
                max_sessions_per_month=1000,
                actor=COMMAND,
            )
            self.stdout.write(f"Created tenant {tenant.slug}.")
        agent = Agent.objects.filter(tenant=tenant, agent_id=DEMO_AGENT_ID).first()
        if agent is None:
            agent = agent_create(tenant=tenant, data=demo_document(), actor=COMMAND)
            self.stdout.write(f"Created agent {agent.agent_id}.")
        if agent.published_version is None:
            version = agent_publish(agent=agent, version="1.0.0", note="Demo agent", actor=COMMAND)
            self.stdout.write(f"Published {agent.agent_id} {version.version}.")
        else:
            self.stdout.write(
                f"Demo agent {agent.agent_id} already published "
                f"({agent.published_version.version}); nothing to do."
            )
        if options["admin"]:
            self._ensure_admin(tenant)

    def _ensure_admin(self, tenant: Tenant) -> None:
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(
            username="admin", defaults={"email": "admin@localhost"}
        )
        password = secrets.token_urlsafe(12)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        membership_set(tenant=tenant, user=user, role=Role.ADMIN, actor=COMMAND)
        self.stdout.write(
            self.style.SUCCESS(f"Admin login: username 'admin', password '{password}'")
        )
