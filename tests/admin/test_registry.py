"""Every model admin goes through the one scoping mixin, so a new admin cannot forget it."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path

from tenants.admin_scoping import TenantScopedAdminMixin, TenantScopedInlineMixin
from tenants.models import Tenant
from tests.admin.conftest import OUR_APPS


def test_every_model_admin_uses_the_scoping_mixin():
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label
        assert isinstance(model_admin, TenantScopedAdminMixin), f"{label} is not scoped"
        if model._meta.app_label not in OUR_APPS:
            assert model_admin.tenant_path is None, f"{label}: third-party, superusers only"
            continue  # its pages (inlines included) are refused to everyone else
        for inline in model_admin.inlines:
            assert issubclass(inline, TenantScopedInlineMixin), f"{label}: {inline.__name__}"
        assert model_admin.tenant_path is not None, f"{label} declares no tenant_path"
        if model_admin.tenant_path == "":
            assert model is Tenant
        else:
            last = get_fields_from_path(model, model_admin.tenant_path)[-1]
            assert last.related_model is Tenant, f"{label}: {model_admin.tenant_path}"
