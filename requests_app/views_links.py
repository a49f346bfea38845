"""The approver link page: no login; GET only shows the request, its POST decides once."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.db.models import Prefetch, prefetch_related_objects
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.utils.decorators import decorator_from_middleware
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from requests_app.links import LinkCheck, LinkSpent, Problem, link_decide, link_resolve
from requests_app.models import RequestTool
from requests_app.opened import opened_token, response_ms
from requests_app.services import RequestAlreadyDecided
from requests_app.voting import VoteRefused, vote_summary

TEMPLATE = "requests_app/approver_link.html"
DECISIONS = {"approve": True, "deny": False}
STATUS_FOR_PROBLEM = {
    Problem.UNKNOWN: 404,
    Problem.EXPIRED: 410,
    Problem.USED: 410,
    Problem.DECIDED: 409,
    Problem.NOT_ALLOWED: 403,
}
ARGUMENT_KEYS_SHOWN = 8
ARGUMENT_VALUE_CHARS = 80


def _private(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Keep the page out of caches, out of Referer headers and out of search engines."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return wrapped


class _NoReferrerCsrf(CsrfViewMiddleware):
    """Django's CSRF check for a page served with `Referrer-Policy: no-referrer`.

    - Browsers then post its form with `Origin: null` and no Referer, which the stock check
      refuses; the token check still applies, a foreign Origin is still refused, and the URL is
      itself a secret that a forged form would need.
    """

    def _origin_verified(self, request: HttpRequest) -> bool:
        return request.META["HTTP_ORIGIN"] == "null" or super()._origin_verified(request)

    def _check_referer(self, request: HttpRequest) -> None:
        if request.META.get("HTTP_REFERER"):
            super()._check_referer(request)


@csrf_exempt  # from the site-wide check only: the view runs _NoReferrerCsrf itself
@_private
@decorator_from_middleware(_NoReferrerCsrf)
@require_http_methods(["GET", "HEAD", "POST"])
def approver_link(request: HttpRequest, token: str) -> HttpResponse:
    """Show the request behind a link; the POST of its form approves or denies it."""
    check = link_resolve(token)
    if request.method == "POST" and check.ok:
        return _decide(request, check, token)
    return _render(request, check)


def _decide(request: HttpRequest, check: LinkCheck, token: str) -> HttpResponse:
    approve = DECISIONS.get(request.POST.get("decision", ""))
    if approve is None:
        return _render(request, check, error="Choose Approve or Deny.", status=400)
    comment = request.POST.get("comment", "").strip()[:2000]
    try:
        looked = response_ms(request.POST.get("opened", ""), check.access_request.public_id)
        decided = link_decide(link=check.link, approve=approve, comment=comment, response_ms=looked)
    except (RequestAlreadyDecided, LinkSpent, VoteRefused):
        # Someone won the race; nothing changed: read again and say who.
        return _render(request, link_resolve(token))
    return _render(request, LinkCheck(check.link, decided), outcome=vote_summary(decided))


def _render(
    request: HttpRequest,
    check: LinkCheck,
    *,
    outcome: str = "",
    error: str = "",
    status: int | None = None,
) -> HttpResponse:
    req = check.access_request
    if req is not None:
        tools = RequestTool.objects.select_related("tool").order_by("position")
        prefetch_related_objects([req], Prefetch("tools", queryset=tools))
    context = {
        "check": check,
        "req": req,
        "person": check.link.person if check.link else None,
        "arguments": arguments_summary(req.arguments) if req is not None else [],
        "outcome": outcome,
        "error": error,
        "opened": opened_token(req.public_id) if req is not None else "",
    }
    status = status or STATUS_FOR_PROBLEM.get(check.problem or "", 200)
    return render(request, TEMPLATE, context, status=status)


def arguments_summary(arguments: Any) -> list[tuple[str, str]]:
    """The first arguments as short "name: value" pairs, for a phone screen."""
    if arguments is None:
        return []
    items = arguments.items() if isinstance(arguments, dict) else [("value", arguments)]
    pairs = []
    for key, value in list(items)[:ARGUMENT_KEYS_SHOWN]:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        pairs.append((str(key)[:40], _shorten(text, ARGUMENT_VALUE_CHARS)))
    if isinstance(arguments, dict) and len(arguments) > ARGUMENT_KEYS_SHOWN:
        pairs.append(("…", f"{len(arguments) - ARGUMENT_KEYS_SHOWN} more"))
    return pairs


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
