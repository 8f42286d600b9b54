"""Create a tenant (operators)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.actors import Actor
from tenants.models import IsolationLevel, Tenant
from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Create a tenant."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", help="Display name (default: the slug).")
        parser.add_argument("--isolation-level", choices=IsolationLevel.values, default="session")
        parser.add_argument("--max-concurrent-sessions", type=int)
        parser.add_argument("--max-sessions-per-month", type=int)
        parser.add_argument("--max-sessions-per-user-per-month", type=int)
        parser.add_argument("--api-requests-per-minute", type=int, default=600)

    def handle(self, *args: Any, **options: Any) -> None:
        if Tenant.objects.filter(slug=options["slug"]).exists():
            raise CommandError(f"Tenant {options['slug']!r} already exists.")
        try:
            tenant = tenant_create(
                slug=options["slug"],
                name=options["name"] or options["slug"],
                isolation_level=options["isolation_level"],
                max_concurrent_sessions=options["max_concurrent_sessions"],
                max_sessions_per_month=options["max_sessions_per_month"],
                max_sessions_per_user_per_month=options["max_sessions_per_user_per_month"],
                api_requests_per_minute=options["api_requests_per_minute"],
                actor=Actor.command("create_tenant"),
            )
        except ValidationError as exc:
            lines = [f"  {field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()]
            raise CommandError("Invalid tenant:\n" + "\n".join(lines)) from None
        self.stdout.write(self.style.SUCCESS(f"Created tenant {tenant.slug}."))
