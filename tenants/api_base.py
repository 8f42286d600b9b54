"""The base of every API view: authentication, tenant scoping, role checks, errors, paging.

``TenantAPIView`` always adds ``TenantPermission`` (views cannot drop it), sets
``request.tenant_context`` and offers ``tenant`` / ``context`` to subclasses, which must
build their querysets from ``self.tenant``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.actors import Actor
from tenants.models import Tenant
from tenants.permissions import TenantContext, TenantPermission
from tenants.platform.exceptions import ErrorSerializer
from tenants.platform.logging import set_log_context
from tenants.platform.parsers import LimitedJSONParser
from tenants.roles import Action

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Invalid request: malformed JSON, unknown keys or a validation error (see `fields`).",
    401: "Not authenticated (send `Authorization: Bearer <key>` or log in).",
    402: "A monthly budget is spent (`budget_exceeded`, with `budget`).",
    403: "Authenticated, but the role or object permission does not allow this action.",
    404: "No such object in your tenant (objects of other tenants are never revealed).",
    405: "Method not allowed.",
    409: "Conflicts with the current state (duplicate id, nothing to publish, active sessions).",
    412: "`If-Match` does not match the current ETag: the draft changed since you read it.",
    413: "The request body exceeds the size limit.",
    415: "Unsupported content type (send `application/json`).",
    429: "Tenant rate limit or quota exceeded; retry after `Retry-After` seconds.",
    503: "A service the request needs (e.g. LiveKit) is not configured.",
}
ALWAYS = (400, 401, 403, 405, 429)  # 400: e.g. an unknown query parameter


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """OpenAPI responses for the given error statuses plus those every endpoint can return."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in sorted({*statuses, *ALWAYS})
    }


BODY_ERRORS = (400, 413, 415)


class StrictInputSerializer(serializers.Serializer):
    """Input that refuses unknown keys, so typos fail instead of being ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError({key: ["Unknown key."] for key in unknown})
        return super().to_internal_value(data)


class StrictInputSchema(OpenApiSerializerExtension):
    """OpenAPI: a strict input declares ``additionalProperties: false`` and ``minLength: 1``
    for text that may not be blank, as it behaves."""

    target_class = StrictInputSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        serializer = self.target() if isinstance(self.target, type) else self.target
        properties = schema.get("properties", {})
        for name, field in serializer.fields.items():
            prop = properties.get(name)
            if (
                isinstance(field, serializers.CharField)
                and not field.allow_blank
                and prop is not None
                and prop.get("type") == "string"
            ):
                prop.setdefault("minLength", 1)
        return {**schema, "additionalProperties": False}


class NoQuerySerializer(StrictInputSerializer):
    """For endpoints without query parameters: any parameter is an unknown key (400)."""


class PageQuerySerializer(StrictInputSerializer):
    """Only the page parameters of a paginated list."""

    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100)


def parse_query(serializer_class: type, request: Request) -> dict[str, Any]:
    """Validated query parameters; an unknown one is a 400 naming it (``StrictInputSerializer``)."""
    # A plain dict: DRF treats a missing boolean in a QueryDict as an unchecked box (False).
    serializer = serializer_class(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def parse_body(serializer_class: type, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ApiPagination(PageNumberPagination):
    """Page-number pagination, ``page_size`` capped at 100; the items key is per view."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100
    results_key = "results"

    def get_paginated_response(self, data: list[Any]) -> Response:
        return Response(
            OrderedDict(
                [
                    ("count", self.page.paginator.count),
                    ("next", self.get_next_link()),
                    ("previous", self.get_previous_link()),
                    (self.results_key, data),
                ]
            )
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        base = super().get_paginated_response_schema(schema)
        base["properties"][self.results_key] = base["properties"].pop("results")
        base["required"] = ["count", self.results_key]
        return base


class TenantAPIView(APIView):
    """Base for every API view. Subclasses set ``object_level = True`` when the action is
    decided per object (then call ``check_object_permissions``), and may map HTTP methods to
    other actions with ``method_actions`` (e.g. ``{"POST": Action.CREATE}``)."""

    parser_classes = [LimitedJSONParser]
    permission_classes: list[Any] = []  # TenantPermission is always added in get_permissions
    object_level: bool = False
    method_actions: dict[str, Action] = {}

    def get_permissions(self) -> list[Any]:
        return [TenantPermission(), *super().get_permissions()]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        set_log_context(tenant_id=self.tenant.slug, agent_id=kwargs.get("agent_id"))
        for key, values in request.query_params.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                raise ParseError("Query parameters may not contain NUL characters.")

    def paginated(self, queryset: Any, serializer_class: type) -> Response:
        """One page of ``queryset`` through the view's paginator, serialized."""
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response(serializer_class(page, many=True).data)

    @property
    def context(self) -> TenantContext:
        return self.request.tenant_context

    @property
    def tenant(self) -> Tenant:
        return self.context.tenant

    @property
    def actor(self) -> Actor:
        """The caller, as services' ``actor`` (audit trail)."""
        return self.context.actor
