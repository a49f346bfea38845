"""Headers every answer carries: the Content-Security-Policy and a private Cache-Control."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

# Console pages, the CSV export, the API and SCIM answer with people's requests, decisions and
# keys: no browser or proxy keeps a copy (a shared machine, a company proxy). `no-store` rather
# than `private, no-cache`: nothing here is served from a validator (no ETag), so revalidating
# would refetch anyway, and the back button shows the queue as it is now, not as it was.
PRIVATE_CACHE_CONTROL = "no-store"


class ContentSecurityPolicyMiddleware:
    """Add CONTENT_SECURITY_POLICY to every response that does not set its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


class PrivateCacheMiddleware:
    """`Cache-Control: no-store` on every answer whose view did not choose its own caching.

    - Errors too (401, 403, 404, 405, 500): they are made by the same views and handlers.
    - Public things say so themselves: static files (WhiteNoise, answered before this runs),
      /healthz (never cached), the OpenAPI document, its docs page and /favicon.ico.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Cache-Control", PRIVATE_CACHE_CONTROL)
        return response
