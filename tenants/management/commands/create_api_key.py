"""Issue a tenant API key and print it once (operators)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tenants.actors import Actor
from tenants.models import Tenant
from tenants.roles import Role
from tenants.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a tenant; the key is printed once and never stored in clear."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tenant", required=True, help="Tenant slug.")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--name", default="cli", help="A label for the key.")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant {options['tenant']!r}.")
        issued = api_key_create(
            tenant=tenant,
            name=options["name"],
            role=options["role"],
            actor=Actor.command("create_api_key"),
        )
        self.stderr.write(
            f"API key {issued.api_key.prefix} ({options['role']}) for {tenant.slug}; "
            "store it now, it is not shown again:"
        )
        self.stdout.write(issued.raw_key)
