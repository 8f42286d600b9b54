"""API permissions: tenant membership, the role table and guardian object permissions.

``TenantPermission`` is always part of ``TenantAPIView``'s permissions, so no API view can
skip tenant resolution. Decisions come from ``tenants.roles`` (model level, for create) and
from guardian object permissions on each agent (granted per tenant role group).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, Group
from django.contrib.contenttypes.models import ContentType
from guardian.utils import get_group_obj_perms_model
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from tenants.actors import Actor
from tenants.models import TENANT_SLUG_PATTERN, ApiKey, Tenant
from tenants.roles import ACTION_PERMISSION, HTTP_METHOD_ACTION, Action, role_allows
from tenants.selectors import memberships_for_user
from tenants.services import role_group_name, tenant_role_group

TENANT_HEADER = "X-Tenant"
_SLUG = re.compile(TENANT_SLUG_PATTERN)


@dataclass(frozen=True)
class TenantContext:
    """Who is calling, for which tenant, in which role."""

    tenant: Tenant
    role: str
    api_key: ApiKey | None = None
    user: AbstractBaseUser | None = None

    @property
    def actor(self) -> Actor:
        """Who writes, for services' audit trail."""
        if self.api_key is not None:
            return Actor.for_api_key(self.api_key)
        return Actor.for_user(self.user, tenant=self.tenant)

    def role_group(self) -> Group:
        return tenant_role_group(tenant=self.tenant, role=self.role)


def tenant_context_for(request: Request) -> TenantContext:
    """Resolve the caller's tenant and role, or raise 401/403.

    API key: its tenant and role. Session user: the tenant named by the ``X-Tenant`` header
    (slug), else the user's only membership. Superusers are members only where they have a
    membership.
    """
    if isinstance(request.auth, ApiKey):
        return TenantContext(
            tenant=request.auth.tenant, role=request.auth.role, api_key=request.auth
        )
    user = request.user
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    memberships = memberships_for_user(user=user)
    slug = request.headers.get(TENANT_HEADER, "").strip()
    if slug:
        membership = memberships.filter(tenant__slug=slug).first() if _SLUG.match(slug) else None
        if membership is None:
            raise PermissionDenied(f"You are not a member of tenant {slug!r}.")
    else:
        found = list(memberships[:2])
        if len(found) != 1:
            raise PermissionDenied(
                "You are a member of no tenant."
                if not found
                else f"You belong to several tenants; choose one with the {TENANT_HEADER} header."
            )
        membership = found[0]
    return TenantContext(tenant=membership.tenant, role=membership.role, user=user)


def has_object_permission(context: TenantContext, action: Action, obj: Any) -> bool:
    """Guardian object permission for ``action`` on ``obj`` (group perms for API keys)."""
    if getattr(obj, "tenant_id", None) != context.tenant.pk:
        return False
    codename = ACTION_PERMISSION[action]
    if context.api_key is not None:
        return _role_group_has_perm(context, codename, obj)
    assert context.user is not None
    return context.user.has_perm(f"{obj._meta.app_label}.{codename}", obj)


def _role_group_has_perm(context: TenantContext, codename: str, obj: Any) -> bool:
    """One query: does the tenant role group hold ``codename`` on ``obj``? (An API key acts
    with its role group's object permissions.)"""
    model = get_group_obj_perms_model(obj)
    filters: dict[str, Any] = {
        "group__name": role_group_name(context.tenant, context.role),
        "permission__codename": codename,
    }
    if model.objects.is_generic():
        filters.update(content_type=ContentType.objects.get_for_model(obj), object_pk=str(obj.pk))
    else:
        filters["content_object"] = obj
    return model.objects.filter(**filters).exists()


def role_group_perm_exists(context: TenantContext, action: Action, model: Any) -> Any:
    """An ``Exists`` to annotate a ``model`` queryset with: does the API key's role group hold
    ``action``'s object permission on the row? (Direct-FK permission tables only; the
    annotation joins the indexed ``content_object_id``, so the lookup and the check are one
    query.) None for session users, whose permissions go through guardian's backend."""
    group_name = api_key_role_group_name(context, model)
    if group_name is None:
        return None
    return group_perm_exists(model, group_name=group_name, codename=ACTION_PERMISSION[action])


def api_key_role_group_name(context: TenantContext, model: Any) -> str | None:
    """The role group whose object permissions an API key acts with, when ``model``'s
    permissions can be checked inside its own query (``group_perm_exists``); else None."""
    if context.api_key is None or get_group_obj_perms_model(model).objects.is_generic():
        return None
    return role_group_name(context.tenant, context.role)


def group_perm_exists(model: Any, *, group_name: str, codename: str) -> Any:
    """``Exists``: the group ``group_name`` holds ``codename`` on the outer ``model`` row
    (a direct-FK guardian table)."""
    from django.db.models import Exists, OuterRef

    return Exists(
        get_group_obj_perms_model(model).objects.filter(
            content_object=OuterRef("pk"),
            group__name=group_name,
            permission__codename=codename,
        )
    )


def view_action(request: Request, view: Any) -> Action:
    """The action a request asks for: the view's override for the method, else the table."""
    overrides: dict[str, Action] = getattr(view, "method_actions", {})
    return overrides.get(request.method, HTTP_METHOD_ACTION.get(request.method, Action.UPDATE))


class TenantPermission(BasePermission):
    """Authenticated, a member of a tenant (sets ``request.tenant_context``) and, for views
    without an object (``object_level = False``), a role that allows the action."""

    def has_permission(self, request: Request, view: Any) -> bool:
        context = tenant_context_for(request)
        request.tenant_context = context
        if getattr(view, "object_level", False):
            return True  # decided per object, after the tenant-scoped lookup
        action = view_action(request, view)
        if action is Action.READ:
            return True  # reads without an object are filtered per object (lists)
        if not role_allows(context.role, action):
            raise PermissionDenied(f"The {context.role} role may not {action} agents.")
        return True

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        context: TenantContext = request.tenant_context
        action = view_action(request, view)
        if not has_object_permission(context, action, obj):
            raise PermissionDenied(f"You may not {action} this agent.")
        return True


def visible_objects(context: TenantContext, queryset: Any, action: Action = Action.READ) -> Any:
    """``queryset`` narrowed to objects the caller holds ``action``'s object permission on."""
    from guardian.shortcuts import get_objects_for_group, get_objects_for_user

    perm = f"{queryset.model._meta.app_label}.{ACTION_PERMISSION[action]}"
    queryset = queryset.filter(tenant=context.tenant)
    if context.api_key is not None:
        return get_objects_for_group(
            context.role_group(), perm, klass=queryset, accept_global_perms=False
        )
    return get_objects_for_user(context.user, perm, klass=queryset, accept_global_perms=False)
