"""Request middleware: a request id bound to the log context and echoed in the response, and
health probes answered before the SSL redirect and the host check."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from tenants.platform.logging import bind_log_context

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        with bind_log_context(request_id=request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class ProbeMiddleware:
    """``GET /healthz`` and ``/readyz`` over plain HTTP with any Host header.

    Kubernetes and load balancers probe a pod by its IP, without TLS; SecurityMiddleware would
    redirect them to HTTPS and CommonMiddleware reject the Host. Placed before both, this answers
    the probes itself (the views read nothing from the request), so every other path keeps the
    redirect and the host check.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from config.views import PROBES

        probe = PROBES.get(request.path_info)
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)
