"""The tenant endpoint (``/api/v1/tenants/me``): it reports session usage and spend, so it
lives with sessions (the tenants app may not read them)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from sessions_app.selectors import tenant_spend, tenant_usage
from tenants.api_base import NoQuerySerializer, TenantAPIView, error_responses, parse_query
from tenants.serializers import TenantMeSerializer


class TenantMeApi(TenantAPIView):
    """The caller's tenant, role, quotas, rate limits and usage."""

    @extend_schema(
        operation_id="tenant_me",
        tags=["tenants"],
        summary="Your tenant, role, quotas, rate limits and current usage",
        responses={200: TenantMeSerializer, **error_responses()},
    )
    def get(self, request: Request) -> Response:
        parse_query(NoQuerySerializer, request)
        tenant = self.tenant
        data = {
            "tenant": tenant,
            "role": self.context.role,
            "auth": "api_key" if self.context.api_key is not None else "session",
            "quotas": tenant.quotas(),
            "rate_limits": tenant.rate_limits(),
            "usage": tenant_usage(tenant=tenant),
            "spend": tenant_spend(tenant=tenant),
        }
        return Response(TenantMeSerializer(data).data)
