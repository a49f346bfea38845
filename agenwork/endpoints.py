"""The endpoints programs call (the gateway API, SCIM): one decorator, each API's own errors.

Each API brings how it finds its caller and its error class (a `Refusal` that knows how to
answer itself); the rules are the same for all:
no CSRF (a Bearer credential, never a session), the method checked with an `Allow` header, every
error raised in a view answered in the API's format, a database outage a 503 the caller may
retry, anything else a logged 500 — never Django's HTML error page.

Their calls skip the console's middleware (BearerEndpointMiddleware): sessions, CSRF, the
logged-in user, messages, htmx. None of it applies to a Bearer call, and on the decisions API
it cost more CPU than the decision ("Decisions API under load", docs/benchmarks.md).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt

logger = logging.getLogger(__name__)
View = Callable[..., HttpResponse]


class Refusal(Exception):
    """An error raised anywhere in an endpoint's view, answered in its API's own format."""

    @classmethod
    def of(cls, status: int, message: str) -> Refusal:
        """The API's error for a refusal the decorator makes itself: 401, 405, 500, 503."""
        raise NotImplementedError

    def response(self) -> HttpResponse:
        """The answer: the status, the API's error body and headers."""
        raise NotImplementedError


@dataclass(frozen=True)
class BearerApi:
    """An API whose callers are programs: how it finds them and the error class it answers with.

    - `find_caller(raw)` is the credential a Bearer value names (None: no such credential);
      the view is called as `view(request, credential, *args, **kwargs)`, and without one the
      caller gets a 401 saying `unauthorized`.
    - `authenticate_first`: SCIM answers 401 to anything without its token, even a wrong
      method; the gateway API tells a wrong method (405) before it reads the key.
    """

    name: str
    error: type[Refusal]
    find_caller: Callable[[str], Any]
    unauthorized: str
    authenticate_first: bool = False

    def endpoint(self, *methods: str) -> Callable[[View], View]:
        """Decorate a view that answers these HTTP methods."""

        def wrap(view: View) -> View:
            @csrf_exempt
            @functools.wraps(view)
            def endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
                try:
                    return self._call(view, methods, request, *args, **kwargs)
                except Refusal as error:
                    return error.response()
                except (OperationalError, InterfaceError):  # PostgreSQL down or restarting
                    logger.exception(
                        "%s: the database is unavailable on %s", self.name, request.path
                    )
                    message = "The database is not answering; retry shortly."
                    return self.error.of(503, message).response()
                except Exception:
                    logger.exception("%s error on %s %s", self.name, request.method, request.path)
                    return self.error.of(500, "Something went wrong.").response()

            endpoint.bearer_endpoint = True  # served past the console's middleware
            return endpoint

        return wrap

    def _call(
        self, view: View, methods: tuple[str, ...], request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        credential = self.authenticate(request) if self.authenticate_first else None
        if request.method not in methods:
            allowed = ", ".join(methods)
            response = self.error.of(405, f"Use {allowed} on this URL.").response()
            response["Allow"] = allowed
            return response
        if not self.authenticate_first:
            credential = self.authenticate(request)
        return view(request, credential, *args, **kwargs)

    def authenticate(self, request: HttpRequest) -> Any:
        """The caller's credential from `Authorization: Bearer <value>`, or a 401."""
        scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
        credential = self.find_caller(raw.strip()) if scheme.lower() == "bearer" else None
        if credential is None:
            raise self.error.of(401, self.unauthorized)
        return credential


class BearerEndpointMiddleware:
    """Call a Bearer endpoint's view straight away, past the console's middleware below this one.

    - Placed after the middleware every answer needs (the request id, the security headers,
      the Content-Security-Policy, `Cache-Control: no-store`) and before the console's own
      (sessions, CSRF, authentication, messages, clickjacking, htmx), which a Bearer call
      never uses: its view is csrf_exempt, reads no session and shows no page.
    - Only under `prefixes`, and only views made by `BearerApi.endpoint`; anything else there
      (the API's docs page) goes through the whole stack as before.
    - Sets Content-Length, as CommonMiddleware would: keep-alive clients need it.
    """

    prefixes = ("/api/v1/", "/scim/v2/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(self.prefixes):
            return self.get_response(request)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        if not getattr(match.func, "bearer_endpoint", False):
            return self.get_response(request)
        request.resolver_match = match
        response = match.func(request, *match.args, **match.kwargs)
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))
        return response
