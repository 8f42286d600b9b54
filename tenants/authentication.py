"""API authentication: tenant API keys sent as ``Authorization: Bearer <key>``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from tenants.models import ApiKey
from tenants.selectors import api_key_from_raw
from tenants.services import api_key_mark_used


class ApiKeyAuthentication(BaseAuthentication):
    """``request.auth`` is the ``ApiKey``; ``request.user`` stays anonymous (keys are not users).

    Listed first in ``DEFAULT_AUTHENTICATION_CLASSES`` so a 401 carries
    ``WWW-Authenticate: Bearer``.
    """

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[AnonymousUser, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Invalid Authorization header: expected 'Bearer <key>'.")
        try:
            raw_key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid API key.") from None
        # Keys are printable; anything else never reaches the database (NUL breaks queries).
        api_key = api_key_from_raw(raw_key) if raw_key.isprintable() else None
        if api_key is None:
            raise AuthenticationFailed("Invalid, expired or revoked API key.")
        api_key_mark_used(api_key=api_key)
        return AnonymousUser(), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """OpenAPI security scheme for ``ApiKeyAuthentication`` (registered on import)."""

    target_class = "tenants.authentication.ApiKeyAuthentication"
    name = "tenantApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Tenant API key from `manage.py create_api_key` (role per key).",
        }
