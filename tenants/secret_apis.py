"""Tenant secrets in the REST API (``/api/v1/secrets``): tenant admins set, list and delete
the named secrets tools and MCP servers use. A value goes in once and is never returned;
every change is audited (``tenants.services``)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from tenants.api_base import (
    BODY_ERRORS,
    ApiPagination,
    PageQuerySerializer,
    StrictInputSerializer,
    TenantAPIView,
    error_responses,
    parse_body,
    parse_query,
)
from tenants.models import SECRET_NAME_REGEX, TenantSecret
from tenants.roles import Action
from tenants.secrets import encryption_problem
from tenants.services import tenant_secret_delete, tenant_secret_set

TAGS = ["secrets"]
MANAGE = {"GET": Action.MANAGE, "POST": Action.MANAGE, "DELETE": Action.MANAGE}


class SecretPagination(ApiPagination):
    results_key = "secrets"


class SecretSerializer(serializers.Serializer):
    """A secret as the API shows it: never its value."""

    name = serializers.CharField()
    description = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class SecretInputSerializer(StrictInputSerializer):
    name = serializers.RegexField(SECRET_NAME_REGEX, max_length=64)
    value = serializers.CharField(max_length=8000, trim_whitespace=False, write_only=True)
    description = serializers.CharField(max_length=200, required=False, default="")


class SecretListCreateApi(TenantAPIView):
    method_actions = MANAGE
    pagination_class = SecretPagination

    @extend_schema(
        operation_id="secret_list",
        tags=TAGS,
        summary="The tenant's secrets (names only; values are never returned)",
        responses={200: SecretSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request: Request) -> Response:
        parse_query(PageQuerySerializer, request)
        return self.paginated(
            TenantSecret.objects.filter(tenant=self.tenant).order_by("name"), SecretSerializer
        )

    @extend_schema(
        operation_id="secret_set",
        tags=TAGS,
        summary="Set (create or replace) a secret; its value is stored encrypted",
        request=SecretInputSerializer,
        responses={201: SecretSerializer, **error_responses(*BODY_ERRORS)},
    )
    def post(self, request: Request) -> Response:
        body = parse_body(SecretInputSerializer, request)
        if problem := encryption_problem():
            raise serializers.ValidationError({"value": [problem]})
        try:
            secret = tenant_secret_set(
                tenant=self.tenant,
                name=body["name"],
                value=body["value"],
                description=body["description"],
                actor=self.actor,
            )
        except ValidationError as exc:
            raise serializers.ValidationError(
                {field: list(messages) for field, messages in exc.message_dict.items()}
            ) from None
        return Response(SecretSerializer(secret).data, status=status.HTTP_201_CREATED)


class SecretDetailApi(TenantAPIView):
    method_actions = MANAGE

    @extend_schema(
        operation_id="secret_delete",
        tags=TAGS,
        summary="Delete a secret (tools naming it cannot be published until it is set again)",
        responses={204: None, **error_responses(404)},
    )
    def delete(self, request: Request, name: str) -> Response:
        secret = TenantSecret.objects.filter(tenant=self.tenant, name=name).first()
        if secret is None:
            raise NotFound(f"No secret {name!r} in this tenant.")
        tenant_secret_delete(secret=secret, actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)
