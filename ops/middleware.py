"""/healthz for load balancers and container health checks.

- Answered by a middleware at the top of the stack: no host check (a probe may use any Host
  header), no HTTPS redirect, no session, no login, no CSRF. GET and HEAD only; never cached.
- 200 with a JSON body when every part is healthy; 503 naming the failing parts otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers

from ops.health import health_report

PATH = "/healthz"


class HealthCheckMiddleware:
    """Answer /healthz before anything else runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.rstrip("/") != PATH:
            return self.get_response(request)
        return healthz(request)


def healthz(request: HttpRequest) -> HttpResponse:
    """The health report as JSON: 200 healthy, 503 failing, 405 for anything but GET/HEAD."""
    if request.method not in ("GET", "HEAD"):
        response: HttpResponse = JsonResponse(
            {"error": {"code": "method_not_allowed", "message": "Use GET."}}, status=405
        )
        response["Allow"] = "GET, HEAD"
    else:
        report = health_report()
        response = JsonResponse(report, status=200 if report["status"] == "ok" else 503)
    add_never_cache_headers(response)
    return response
