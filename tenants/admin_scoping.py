"""Tenant scoping for every model admin: one mixin, each admin says how its model reaches
its tenant.

For staff who are not superusers, a model admin using ``TenantScopedAdminMixin`` shows,
offers and writes only objects of tenants they are a member of, and the role table
(``tenants.roles``) decides what each membership allows there. Django's global model
permissions are neither needed nor enough: a staff user with ``view_session`` but no
membership sees no session. Superusers are unchanged (everything, as Django decides).

- ``tenant_path``: the ORM path from the model to its ``Tenant`` (``"tenant"``,
  ``"agent__tenant"``; ``""`` for ``Tenant`` itself). ``None`` marks a platform model
  (users, groups, beat schedules): superusers only.
- ``tenant_actions``: the role-table action each admin permission (view, add, change,
  delete) needs in the object's tenant; ``None`` reserves that permission to superusers.

What the mixin scopes: the queryset (so other tenants' ids are "doesn't exist" on change,
delete and history pages, and bulk actions only reach visible rows), the module and
object permissions, the choices of every foreign key to a scoped model, the relation
list filters (``RelatedOnlyFieldListFilter``: only related objects of visible rows), the
rows a bulk action may touch (its ``allowed_permissions`` per row), and every saved form:
an object whose tenant the user may not add or change there is refused with a form error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse

from tenants.roles import Action, role_allows
from tenants.selectors import tenant_roles_of

PERMISSION_KINDS = ("view", "add", "change", "delete")

#: Ordinary tenant objects (agents and what hangs off them): the role table's CRUD.
CRUD_TENANT_ACTIONS: Mapping[str, Action | None] = {
    "view": Action.READ,
    "add": Action.CREATE,
    "change": Action.UPDATE,
    "delete": Action.DELETE,
}
#: Running the tenant (members, API keys, provider credentials, webhooks, audit log).
MANAGE_TENANT_ACTIONS: Mapping[str, Action | None] = dict.fromkeys(PERMISSION_KINDS, Action.MANAGE)

FOREIGN_TENANT_ERROR = "You may not {kind} this in the chosen tenant."


def adopt_saved(obj: Model, saved: Model) -> None:
    """After a service saved its own instance of the form's object: the admin goes on with
    ``obj`` (inlines, log entry, redirect), so make ``obj`` that stored row."""
    for field in saved._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding, obj._state.db = False, saved._state.db


def is_platform_operator(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_superuser)


def tenant_roles_for(request: HttpRequest) -> dict[int, str]:
    """The user's ``{tenant id: role}``, read once per request."""
    cached = getattr(request, "_admin_tenant_roles", None)
    if cached is None:
        user = request.user
        cached = tenant_roles_of(user=user) if user.is_authenticated and user.is_active else {}
        request._admin_tenant_roles = cached
    return cached


def tenant_ids_allowing(request: HttpRequest, action: Action | None) -> set[int]:
    """Ids of the user's tenants whose role allows ``action`` (none for ``None``)."""
    if action is None:
        return set()
    return {tid for tid, role in tenant_roles_for(request).items() if role_allows(role, action)}


class TenantScopedAdminMixin:
    """Put first in a ModelAdmin's bases; declare ``tenant_path`` (see the module docstring)."""

    tenant_path: str | None = None
    tenant_actions: Mapping[str, Action | None] = CRUD_TENANT_ACTIONS

    # --- where the user may do what ---
    def tenant_ids_for(self, request: HttpRequest, kind: str) -> set[int]:
        if self.tenant_path is None:
            return set()  # a platform model: no tenant role reaches it
        return tenant_ids_allowing(request, self.tenant_actions.get(kind))

    def tenant_id_of(self, obj: Model) -> int | None:
        """The id of ``obj``'s tenant, following ``tenant_path`` (None if not set yet)."""
        if self.tenant_path is None:
            return None
        if self.tenant_path == "":
            return obj.pk
        *hops, last = self.tenant_path.split("__")
        current: Any = obj
        for hop in hops:
            current = getattr(current, hop, None)
            if current is None:
                return None
        return getattr(current, f"{last}_id", None)

    def scope_to_tenants(self, queryset: QuerySet, tenant_ids: set[int]) -> QuerySet:
        if self.tenant_path is None:
            return queryset.none()
        return queryset.filter(**{f"{self.tenant_path or 'pk'}__in": tenant_ids})

    def _tenant_allows(self, request: HttpRequest, kind: str, obj: Model | None) -> bool:
        tenant_ids = self.tenant_ids_for(request, kind)
        if obj is None:
            return bool(tenant_ids)
        return self.tenant_id_of(obj) in tenant_ids

    # --- Django's permission hooks ---
    def has_module_permission(self, request: HttpRequest) -> bool:
        if is_platform_operator(request):
            return super().has_module_permission(request)  # type: ignore[misc]
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_platform_operator(request):
            return super().has_view_permission(request, obj)  # type: ignore[misc]
        return self._tenant_allows(request, "view", obj) or self._tenant_allows(
            request, "change", obj
        )

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        if is_platform_operator(request):
            return super().has_add_permission(request, *args)  # type: ignore[misc]
        return self._tenant_allows(request, "add", None)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_platform_operator(request):
            return super().has_change_permission(request, obj)  # type: ignore[misc]
        return self._tenant_allows(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_platform_operator(request):
            return super().has_delete_permission(request, obj)  # type: ignore[misc]
        return self._tenant_allows(request, "delete", obj)

    # --- rows, choices, filters, forms, actions ---
    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)  # type: ignore[misc]
        if is_platform_operator(request):
            return queryset
        visible = self.tenant_ids_for(request, "view") | self.tenant_ids_for(request, "change")
        return self.scope_to_tenants(queryset, visible)

    def scoped_choices(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        """``queryset`` (of any model) cut to objects this admin may write against: its
        tenants where the user may add or change (the saved form is checked exactly)."""
        related_admin = self.admin_site._registry.get(queryset.model)  # type: ignore[attr-defined]
        if not isinstance(related_admin, TenantScopedAdminMixin) or (
            related_admin.tenant_path is None
        ):
            return queryset  # not a tenant object: the admin's own field code decides
        writable = self.tenant_ids_for(request, "add") | self.tenant_ids_for(request, "change")
        return related_admin.scope_to_tenants(queryset, writable)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if not is_platform_operator(request):
            queryset = kwargs.get("queryset")
            if queryset is None:
                queryset = self.get_field_queryset(None, db_field, request)  # type: ignore[attr-defined]
            if queryset is None:
                queryset = db_field.remote_field.model._default_manager.all()
            kwargs["queryset"] = self.scoped_choices(request, queryset)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if not is_platform_operator(request):
            queryset = kwargs.get("queryset")
            if queryset is None:
                queryset = db_field.remote_field.model._default_manager.all()
            kwargs["queryset"] = self.scoped_choices(request, queryset)
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]

    def get_list_filter(self, request: HttpRequest) -> list:
        filters = list(super().get_list_filter(request))  # type: ignore[misc]
        if is_platform_operator(request):
            return filters
        return [self._scoped_list_filter(spec) for spec in filters]

    def _scoped_list_filter(self, spec: Any) -> Any:
        """Relation filters list only related objects of the rows the user can see."""
        if isinstance(spec, str):
            field_path, filter_class = spec, None
        elif isinstance(spec, tuple | list) and isinstance(spec[0], str):
            field_path, filter_class = spec[0], spec[1]
        else:
            return spec  # a SimpleListFilter: it filters the scoped queryset itself
        if filter_class not in (None, admin.RelatedFieldListFilter):
            return spec
        try:
            field = get_fields_from_path(self.model, field_path)[-1]  # type: ignore[attr-defined]
        except FieldDoesNotExist:
            return spec
        if not field.is_relation:
            return spec
        return (field_path, admin.RelatedOnlyFieldListFilter)

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, **kwargs)  # type: ignore[misc]
        if is_platform_operator(request):
            return form_class
        kind = "add" if obj is None else "change"
        allowed = self.tenant_ids_for(request, kind)
        model_admin = self

        class TenantGuardedForm(form_class):  # type: ignore[misc, valid-type]
            """Refuses an object whose (new) tenant the user may not ``kind`` in."""

            def _post_clean(self) -> None:
                super()._post_clean()
                if model_admin.tenant_id_of(self.instance) not in allowed:
                    self.add_error(None, FOREIGN_TENANT_ERROR.format(kind=kind))

        TenantGuardedForm.__name__ = form_class.__name__
        return TenantGuardedForm

    def response_action(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """A bulk action reaches only rows whose tenant allows its ``allowed_permissions``."""
        if not is_platform_operator(request):
            names = request.POST.getlist("action")
            try:
                name = names[int(request.POST.get("index", 0))]
            except (IndexError, ValueError):
                name = None
            action = self.get_actions(request).get(name) if name else None  # type: ignore[attr-defined]
            for kind in getattr(action[0], "allowed_permissions", ()) if action else ():
                if kind in PERMISSION_KINDS:
                    queryset = self.scope_to_tenants(queryset, self.tenant_ids_for(request, kind))
        return super().response_action(request, queryset)  # type: ignore[misc]


class TenantScopedInlineMixin:
    """An inline is seen and written exactly as its parent object is (the parent admin uses
    ``TenantScopedAdminMixin``). ``view_action``, if set, is also needed in the parent's
    tenant to see the rows (e.g. ``Action.MANAGE`` for memberships)."""

    view_action: Action | None = None

    def _parent_admin(self) -> TenantScopedAdminMixin:
        return self.admin_site._registry[self.parent_model]  # type: ignore[attr-defined]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_platform_operator(request):
            return super().has_view_permission(request, obj)  # type: ignore[misc]
        parent = self._parent_admin()
        if self.view_action is not None:
            tenant_ids = tenant_ids_allowing(request, self.view_action)
            if not tenant_ids or (obj is not None and parent.tenant_id_of(obj) not in tenant_ids):
                return False  # (obj None: Django's inline queryset check; rows follow the parent)
        return parent.has_view_permission(request, obj)  # type: ignore[attr-defined]

    def _may_write(self, request: HttpRequest, obj: Any) -> bool:
        parent = self._parent_admin()
        if obj is None:
            return parent.has_add_permission(request)  # type: ignore[attr-defined]
        return self.has_view_permission(request, obj) and parent.has_change_permission(  # type: ignore[attr-defined]
            request, obj
        )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_platform_operator(request):
            return super().has_add_permission(request, obj)  # type: ignore[misc]
        return self._may_write(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_platform_operator(request):
            return super().has_change_permission(request, obj)  # type: ignore[misc]
        return self._may_write(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_platform_operator(request):
            return super().has_delete_permission(request, obj)  # type: ignore[misc]
        return self._may_write(request, obj)


def platform_only(site: admin.AdminSite, model: type[Model]) -> None:
    """Re-register a third-party model admin (auth, Celery beat) as superusers-only: these
    objects belong to no tenant, and a staff user with ``change_user`` could otherwise make
    themselves a superuser."""
    original = type(site._registry[model])
    site.unregister(model)
    scoped = type(
        original.__name__,
        (TenantScopedAdminMixin, original),
        {"tenant_path": None, "__module__": __name__, "__doc__": original.__doc__},
    )
    site.register(model, scoped)
