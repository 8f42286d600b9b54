"""Every registered admin model × every kind of non-superuser staff: no foreign row is ever
listed, shown, offered as a choice, filtered on, written, deleted or reached by an action.

Each case also snapshots every foreign row (and the row count of the model) before the
attacks and compares after: "zero foreign rows writable" is checked on the database, not
on status codes alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.db.models import Model
from django.urls import reverse

from tests.admin.conftest import FOREIGN_MARK, OUR_APPS, USER_KINDS, World, page_text

pytestmark = pytest.mark.django_db

AddData = Callable[[World, Any], list[dict[str, Any]]]
ALL_ROLES = frozenset({"admin", "developer", "viewer"})
ADMIN_ONLY = frozenset({"admin"})
TURNS = json.dumps([{"user": "Hi", "expect": [{"kind": "valid"}]}])
PUBLIC_URL = "https://93.184.216.34/in"  # an IP literal: no DNS lookup in tests


@dataclass(frozen=True)
class Spec:
    viewers: frozenset[str]  # home roles that see the home row
    add_attempts: AddData | None = None  # crafted POSTs choosing a foreign tenant / FK


SPECS: dict[str, Spec] = {
    "tenants.Tenant": Spec(ALL_ROLES),
    "tenants.ApiKey": Spec(
        ADMIN_ONLY,
        lambda w, u: [{"tenant": w.foreign.tenant.pk, "name": "zeta-evil", "role": "admin"}],
    ),
    "tenants.AuditEvent": Spec(ADMIN_ONLY),
    "tenants.Membership": Spec(
        ADMIN_ONLY,
        lambda w, u: [
            {"user": u.username, "tenant": w.foreign.tenant.pk, "role": "admin"},
            {"user": u.pk, "tenant": w.foreign.tenant.pk, "role": "admin"},
        ],
    ),
    "tenants.ProviderCredential": Spec(
        ADMIN_ONLY,
        lambda w, u: [{"tenant": w.foreign.tenant.pk, "provider": "deepgram", "value": "sk-x"}],
    ),
    "tenants.TenantSecret": Spec(
        ADMIN_ONLY,
        lambda w, u: [
            {"tenant": w.foreign.tenant.pk, "name": "other", "description": "", "value": "x"}
        ],
    ),
    "tenants.WebhookEndpoint": Spec(
        ADMIN_ONLY,
        lambda w, u: [
            {
                "tenant": w.foreign.tenant.pk,
                "agent": "",
                "url": PUBLIC_URL,
                "events": ["session.ended"],
                "is_active": "on",
            },
            {  # own tenant, someone else's agent
                "tenant": w.home.tenant.pk,
                "agent": w.foreign["agents_config.Agent"].pk,
                "url": PUBLIC_URL,
                "events": ["session.ended"],
                "is_active": "on",
            },
        ],
    ),
    "tenants.WebhookDelivery": Spec(ADMIN_ONLY),
    "agents_config.Agent": Spec(
        ALL_ROLES,
        lambda w, u: [{"tenant": w.foreign.tenant.pk, "agent_id": "zeta-evil", "name": "Evil"}],
    ),
    "agents_config.AgentVersion": Spec(ALL_ROLES),
    "agents_config.AgentTestCase": Spec(
        ALL_ROLES,
        lambda w, u: [
            {
                "agent": w.foreign["agents_config.Agent"].pk,
                "name": "zeta evil case",
                "user_details": "{}",
                "overrides": "{}",
                "turns": TURNS,
            }
        ],
    ),
    "agents_config.AgentTestRun": Spec(ALL_ROLES),
    "agents_config.VersionExperiment": Spec(ALL_ROLES),
    "sessions_app.Session": Spec(ALL_ROLES),
    "sessions_app.PhoneNumber": Spec(
        ALL_ROLES,
        lambda w, u: [
            {
                "tenant": w.foreign.tenant.pk,
                "number": "+442079990000",
                "agent": w.foreign["agents_config.Agent"].pk,
            }
        ],
    ),
    "sessions_app.OutboundTrunk": Spec(
        ALL_ROLES,
        lambda w, u: [{"tenant": w.foreign.tenant.pk, "address": "evil.example.com"}],
    ),
    "sessions_app.PhoneCall": Spec(ALL_ROLES),
    "sessions_app.Campaign": Spec(
        ALL_ROLES,
        lambda w, u: [
            {
                "tenant": w.foreign.tenant.pk,
                "name": "zeta evil campaign",
                "agent": w.foreign["agents_config.Agent"].pk,
            }
        ],
    ),
    "sessions_app.Budget": Spec(
        ADMIN_ONLY,
        lambda w, u: [
            {
                "tenant": w.foreign.tenant.pk,
                "monthly_limit_usd": "9",
                "threshold_percent": 80,
                "session_reserve_usd": "0.05",
                "closing_line": "zeta",
            },
            {  # own tenant, someone else's agent
                "tenant": w.home.tenant.pk,
                "agent": w.foreign["agents_config.Agent"].pk,
                "monthly_limit_usd": "9",
                "threshold_percent": 80,
                "session_reserve_usd": "0.05",
                "closing_line": "zeta",
            },
        ],
    ),
    "sessions_app.BudgetAlert": Spec(ADMIN_ONLY),
    "sessions_app.ModelPrice": Spec(
        ADMIN_ONLY,
        lambda w, u: [
            {
                "tenant": w.foreign.tenant.pk,
                "provider": "openai",
                "model": "zeta",
                "metric": "prompt_tokens",
                "usd_per_million": "1",
                "effective_from": "2025-01-01",
            },
            {
                "tenant": "",
                "provider": "openai",
                "model": "zeta",  # a platform price
                "metric": "prompt_tokens",
                "usd_per_million": "1",
                "effective_from": "2025-01-01",
            },
        ],
    ),
}
PLATFORM_SPEC = Spec(frozenset())  # users, groups, beat schedules: superusers only

# How each model (and a few unregistered children) reaches its tenant, written out here
# independently of the admins under test, to snapshot the foreign tenant's rows.
FOREIGN_ROWS = {
    "tenants.Tenant": "pk",
    "tenants.ApiKey": "tenant",
    "tenants.AuditEvent": "tenant",
    "tenants.Membership": "tenant",
    "tenants.ProviderCredential": "tenant",
    "tenants.TenantSecret": "tenant",
    "tenants.WebhookEndpoint": "tenant",
    "tenants.WebhookDelivery": "endpoint__tenant",
    "agents_config.Agent": "tenant",
    "agents_config.SchemaField": "agent__tenant",
    "agents_config.AgentVersion": "agent__tenant",
    "agents_config.AgentTestCase": "agent__tenant",
    "agents_config.AgentTestRun": "agent__tenant",
    "agents_config.VersionExperiment": "agent__tenant",
    "agents_config.AgentUserObjectPermission": "content_object__tenant",
    "agents_config.AgentGroupObjectPermission": "content_object__tenant",
    "sessions_app.Session": "tenant",
    "sessions_app.Turn": "session__tenant",
    "sessions_app.PhoneNumber": "tenant",
    "sessions_app.OutboundTrunk": "tenant",
    "sessions_app.PhoneCall": "tenant",
    "sessions_app.Campaign": "tenant",
    "sessions_app.CampaignRecipient": "campaign__tenant",
    "sessions_app.CallStatusChange": "call__tenant",
    "sessions_app.Budget": "tenant",
    "sessions_app.BudgetAlert": "budget__tenant",
    "sessions_app.ModelPrice": "tenant",
}

REGISTERED = sorted(model._meta.label for model in admin.site._registry)


def foreign_snapshot(world: World) -> dict[str, list[dict[str, Any]]]:
    tenant = world.foreign.tenant
    return {
        label: sorted(
            (
                repr(sorted(row.items()))
                for row in apps.get_model(label).objects.filter(**{path: tenant.pk}).values()
            ),
        )
        for label, path in FOREIGN_ROWS.items()
    }


def url(model: type[Model], view: str, *args: Any) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def listed_pks(html: str, model: type[Model]) -> set[str]:
    """Primary keys of the rows in a changelist's result table."""
    if 'id="result_list"' not in html:
        return set()
    table = html.split('id="result_list"', 1)[1].split("</table>", 1)[0]
    opts = model._meta
    links = re.findall(rf'/admin/{opts.app_label}/{opts.model_name}/([^/"]+)/change/', table)
    boxes = re.findall(r'name="_selected_action" value="([^"]+)"', table)
    return set(links) | set(boxes)


def assert_no_foreign_text(response: Any) -> None:
    assert FOREIGN_MARK not in page_text(response)


def assert_not_reachable(response: Any) -> None:
    """Another tenant's object: "doesn't exist" (redirect to the index), 403 or 404."""
    assert response.status_code in (302, 403, 404), response.status_code
    if response.status_code == 302:
        assert response["Location"] == reverse("admin:index")
    assert_no_foreign_text(response)


def action_names(model_admin: admin.ModelAdmin) -> list[str]:
    return [name for _, name, _ in model_admin._get_base_actions()]


@pytest.mark.parametrize("kind", list(USER_KINDS))
@pytest.mark.parametrize("label", REGISTERED)
def test_no_foreign_row_is_visible_or_writable(label, kind, world, make_staff, client):
    model = apps.get_model(label)
    model_admin = admin.site._registry[model]
    spec = SPECS.get(label, PLATFORM_SPEC)
    role = USER_KINDS[kind][0]
    user = make_staff(kind)
    client.force_login(user)
    before = foreign_snapshot(world)
    rows_before = model.objects.count()

    # The changelist (and its list filters, search and date drill-down).
    changelist = client.get(url(model, "changelist"))
    if role in spec.viewers:
        assert changelist.status_code == 200
        home_row = world.home[label]
        assert str(home_row.pk) in listed_pks(changelist.content.decode(), model)
        assert "Home" in changelist.content.decode() or label != "tenants.Tenant"
    else:
        assert changelist.status_code == 403
    assert_no_foreign_text(changelist)
    if changelist.status_code == 200:
        for query in (f"?q={FOREIGN_MARK}", f"?tenant__id__exact={world.foreign.tenant.pk}"):
            filtered = client.get(url(model, "changelist") + query)
            assert filtered.status_code in (200, 302)  # an unknown filter redirects (?e=1)
            html = page_text(filtered)
            for echo in (f"q%3d{FOREIGN_MARK}", f"q={FOREIGN_MARK}", f'value="{FOREIGN_MARK}"'):
                html = html.replace(echo, "")  # the search box repeats the query
            assert FOREIGN_MARK not in html
            assert not listed_pks(html, model) & {str(world.foreign[label].pk)}
        home_page = client.get(url(model, "change", world.home[label].pk))
        assert home_page.status_code == 200
        assert_no_foreign_text(home_page)  # no foreign choices in the form either

    # The add page and crafted POSTs naming a foreign tenant / foreign object.
    add_page = client.get(url(model, "add"))
    assert add_page.status_code in (200, 403)
    assert_no_foreign_text(add_page)
    for data in spec.add_attempts(world, user) if spec.add_attempts else [{}]:
        response = client.post(url(model, "add"), data)
        assert response.status_code in (200, 403), response.status_code
        if response.status_code == 200:
            assert response.context["adminform"].form.errors  # refused with a form error
        assert model.objects.count() == rows_before  # nothing stored

    # Another tenant's object: change, history, delete — GET and POST.
    if label in SPECS:
        foreign_pk = world.foreign[label].pk
        for view in ("change", "history", "delete"):
            assert_not_reachable(client.get(url(model, view, foreign_pk)))
        assert_not_reachable(client.post(url(model, "change", foreign_pk), {"name": "zeta"}))
        assert_not_reachable(client.post(url(model, "delete", foreign_pk), {"post": "yes"}))

        # Every bulk action the admin has, aimed at the foreign row.
        for name in action_names(model_admin):
            response = client.post(
                url(model, "changelist"),
                {"action": name, "_selected_action": [str(foreign_pk)], "index": 0, "post": "yes"},
            )
            assert response.status_code in (200, 302, 403), (name, response.status_code)
            assert_no_foreign_text(response)

    assert foreign_snapshot(world) == before
    assert model.objects.count() == rows_before


def test_every_admin_model_has_a_spec():
    """A new tenant model admin must say here who sees it (and what crafted adds to try)."""
    ours = {label for label in REGISTERED if label.split(".")[0] in OUR_APPS}
    assert ours == set(SPECS)
