"""One JSON error shape for the whole API: ``{"error": {"code", "message", "fields"}}``.

``fields`` maps a field path (``schema_config.fields[2].field_type``, ``""`` for the whole
document) to messages. Domain errors raised by services (``ContractError``,
``AgentConflict``, ``StaleRevision``, ``OutboundURLForbidden``, ``SessionRejected``,
``QuotaExceeded``, ``ProvisioningUnavailable``, ``BudgetExceeded``) are translated by the
handler, so views do not catch them. Each app registers the translations of its own errors
(``register_exception_mapping`` in its ``AppConfig.ready``), so this ground module imports no
app. A quota error also carries ``quota`` and ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from tenants.platform.json_input import UnsafeJSON


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The resource changed since you read it (If-Match does not match)."
    default_code = "precondition_failed"


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class UnacceptableJSON(APIException):
    """A body that parses but breaks ``tenants.platform.json_input``'s limits (depth, NaN...)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The JSON body is outside the accepted limits."
    default_code = "parse_error"

    def __init__(self, fields: dict[str, list[str]]):
        first = next((msgs[0] for msgs in fields.values() if msgs), None)
        super().__init__(f"{self.default_detail} {first}" if first else None)
        self.fields = fields


class InvalidConfiguration(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The configuration is invalid."
    default_code = "validation_error"

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__()
        self.fields = fields


class FieldPermissionDenied(APIException):
    """A 403 about named fields (e.g. outbound URLs only an admin may change)."""

    status_code = status.HTTP_403_FORBIDDEN
    default_detail = "Your role may not change these fields."
    default_code = "permission_denied"

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__()
        self.fields = fields


class QuotaExceededError(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "A tenant quota is exhausted."
    default_code = "quota_exceeded"

    def __init__(self, quota: Any):
        """``quota``: a ``sessions_app.services.QuotaExceeded`` (quota, limit, reset_at)."""
        super().__init__(str(quota))
        self.extra = {
            "quota": {
                "name": quota.quota,
                "limit": quota.limit,
                "reset_at": quota.reset_at.isoformat() if quota.reset_at else None,
            }
        }
        # Monthly quotas reset at a known time; a concurrent slot may free up any moment.
        self.wait = (
            max(1, int((quota.reset_at - timezone.now()).total_seconds())) if quota.reset_at else 1
        )


# Retry-After of a 503 when the task broker is down (it usually comes back within seconds).
PROVISIONING_RETRY_AFTER_SECONDS = 5


class BudgetExceededError(APIException):
    status_code = status.HTTP_402_PAYMENT_REQUIRED
    default_detail = "A monthly budget is spent."
    default_code = "budget_exceeded"

    def __init__(self, budget: Any):
        """``budget``: a ``sessions_app.billing.BudgetExceeded``."""
        super().__init__(str(budget))
        self.extra = {
            "budget": {
                "scope": budget.scope,
                "limit_usd": str(budget.limit_usd),
                "committed_usd": str(budget.committed_usd),
                "reset_at": budget.reset_at.isoformat(),
            }
        }


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "A required service is not configured."
    default_code = "service_unavailable"


class QuotaInfoSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="e.g. `max_concurrent_sessions`.")
    limit = serializers.IntegerField()
    reset_at = serializers.DateTimeField(
        allow_null=True, help_text="When a monthly quota resets; null for concurrent slots."
    )


class BudgetInfoSerializer(serializers.Serializer):
    scope = serializers.CharField(help_text="`tenant` or `agent <agent_id>`.")
    limit_usd = serializers.DecimalField(max_digits=14, decimal_places=6, coerce_to_string=True)
    committed_usd = serializers.DecimalField(max_digits=14, decimal_places=6, coerce_to_string=True)
    reset_at = serializers.DateTimeField(help_text="When the monthly budget starts again.")


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable error code, e.g. `not_found`.")
    message = serializers.CharField(help_text="Human-readable summary.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text='Field path → messages (e.g. "schema_config.fields[2].field_type"); '
        '"" is the whole document. Empty unless the error concerns fields.',
    )
    quota = QuotaInfoSerializer(required=False, help_text="Only on `quota_exceeded` (429).")
    budget = BudgetInfoSerializer(required=False, help_text="Only on `budget_exceeded` (402).")


class ErrorSerializer(serializers.Serializer):
    """The error response of every API endpoint."""

    error = ErrorBodySerializer()


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF validation details (nested dicts/lists) as ``{path: [messages]}``."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            path = f"{prefix}.{name}" if prefix and name else (prefix or name)
            for sub, messages in _flatten(value, path).items():
                out.setdefault(sub, []).extend(messages)
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix: [str(item) for item in detail]}
        out = {}
        for index, item in enumerate(detail):
            for sub, messages in _flatten(item, f"{prefix}[{index}]").items():
                out.setdefault(sub, []).extend(messages)
        return out
    return {prefix: [str(detail)]}


Translator = Callable[[Any], Exception]

_MAPPINGS: dict[type[Exception], Translator] = {}


def register_exception_mapping(exc_type: type[Exception], translate: Translator) -> None:
    """Answer a domain error ``exc_type`` as the API error ``translate(exc)`` returns.

    Called from each app's ``AppConfig.ready`` for the errors its services raise.
    """
    _MAPPINGS[exc_type] = translate


def _unsafe_json(exc: UnsafeJSON) -> Exception:
    return InvalidConfiguration(fields=exc.errors)


register_exception_mapping(UnsafeJSON, _unsafe_json)
register_exception_mapping(RequestDataTooBig, lambda exc: PayloadTooLarge())


def _translate(exc: Exception) -> Exception:
    for klass in type(exc).__mro__:
        translate = _MAPPINGS.get(klass)
        if translate is not None:
            return translate(exc)
    return exc


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (status, headers such as Retry-After), then the shared error body."""
    # Imported here: rest_framework.views loads the parser setting, which imports this module.
    from rest_framework.views import exception_handler

    exc = _translate(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None  # a bug: let Django report the 500
    fields: dict[str, list[str]] = {}
    if isinstance(exc, InvalidConfiguration | FieldPermissionDenied | UnacceptableJSON):
        code, message, fields = exc.default_code, str(exc.detail), exc.fields
    elif isinstance(exc, ValidationError):
        code, message = "validation_error", "The request is invalid."
        fields = _flatten(exc.detail)
    elif isinstance(exc, APIException):
        code = exc.default_code
        detail = exc.detail
        message = str(detail) if not isinstance(detail, dict | list) else str(exc.default_detail)
    else:  # Http404 / PermissionDenied from Django, already converted by DRF
        code = "not_found" if response.status_code == 404 else "permission_denied"
        message = str(response.data.get("detail", "")) if isinstance(response.data, dict) else ""
    response.data = {
        "error": {"code": code, "message": message, "fields": fields, **getattr(exc, "extra", {})}
    }
    return response


@csrf_exempt  # it changes nothing; without this a POST would get Django's HTML CSRF page
def api_not_found(request: Any, *args: Any, **kwargs: Any) -> JsonResponse:
    """Unknown paths under the API prefix answer in the error shape too (not Django's HTML)."""
    body = {"error": {"code": "not_found", "message": "No such API endpoint.", "fields": {}}}
    return JsonResponse(body, status=404)
