"""The approver link page: no login; GET only shows the request, its POST decides once."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.utils import timezone
from django.utils.decorators import decorator_from_middleware
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from agenwork.templatetags.agenwork_tags import pretty_json
from requests_app.deciding import link_decide
from requests_app.forms import DecisionForm
from requests_app.links import LinkCheck, LinkSpent, Problem, link_resolve
from requests_app.models import AccessRequest, RequestTool
from requests_app.opened import opened_token, response_ms
from requests_app.selectors import request_for_link
from requests_app.services import RequestAlreadyDecided, duration_label
from requests_app.voting import VoteRefused, vote_summary

TEMPLATE = "requests_app/approver_link.html"
DECISIONS = {"approve": True, "deny": False}
APPROVED = AccessRequest.Status.APPROVED
STATUS_FOR_PROBLEM = {
    Problem.UNKNOWN: 404,
    Problem.EXPIRED: 410,
    Problem.USED: 410,
    Problem.DECIDED: 409,
    Problem.NOT_ALLOWED: 403,
}
ARGUMENTS_SHOWN = 8  # the rest wait behind "more arguments", so the page stays short on a phone
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
    if check.ok:
        request_for_link(check.access_request)
    if request.method == "POST" and check.ok:
        return _decide(request, check, token)
    return _render(request, check)


def _decide(request: HttpRequest, check: LinkCheck, token: str) -> HttpResponse:
    form = DecisionForm(request.POST, access_request=check.access_request)
    approve = DECISIONS.get(request.POST.get("decision", ""))
    if approve is None:
        return _render(request, check, form=form, error="Choose Approve or Deny.", status=400)
    if not form.is_valid() or (approve and not form.require_tools()):
        return _render(request, check, form=form, status=400)
    try:
        looked = response_ms(request.POST.get("opened", ""), check.access_request.public_id)
        decided = link_decide(
            link=check.link,
            approve=approve,
            tool_ids=form.cleaned_data["tools"],
            duration=form.grant_duration,
            comment=form.cleaned_data["comment"],
            response_ms=looked,
        )
    except (RequestAlreadyDecided, LinkSpent, VoteRefused):
        # Someone won the race; nothing changed: read again and say who.
        return _render(request, link_resolve(token))
    request_for_link(decided)  # the decision refreshed the request and its tools' statuses
    return _render(request, LinkCheck(check.link, decided), outcome=vote_summary(decided))


def _render(
    request: HttpRequest,
    check: LinkCheck,
    *,
    form: DecisionForm | None = None,
    outcome: str = "",
    error: str = "",
    status: int | None = None,
) -> HttpResponse:
    req = check.access_request
    lines = argument_lines(req.arguments) if req is not None else []
    if req is not None and check.ok and not outcome:
        form = form or DecisionForm(access_request=req)
    context = {
        "check": check,
        "req": req,
        "person": check.link.person if check.link else None,
        "arguments": lines[:ARGUMENTS_SHOWN],
        "more_arguments": lines[ARGUMENTS_SHOWN:],
        "outcome": outcome,
        "scope": _scope(req) if outcome else "",
        "error": error,
        **_form_context(form, req),
    }
    status = status or STATUS_FOR_PROBLEM.get(check.problem or "", 200)
    return render(request, TEMPLATE, context, status=status)


def _form_context(form: DecisionForm | None, req: AccessRequest | None) -> dict[str, Any]:
    """The decision form, with "More options" open when what it hides was changed or is wrong."""
    if form is None:
        return {"form": None}
    duration = form["duration"].value() or "once"
    return {
        "form": form,
        "duration": duration,
        "options_open": duration != "once" or bool(form["comment"].value()),
        "opened": opened_token(req.public_id),
    }


def _scope(req: AccessRequest) -> str:
    if req.is_pending:  # a vote towards N approvals: request_vote applies the last one's choice
        return "The approval that completes the count chooses the tools and for how long."
    return approval_scope(req) if req.status == APPROVED else ""


def approval_scope(access_request: AccessRequest) -> str:
    """What an approval lets through and for how long, from the request's tools and grant."""
    approved, denied = [], []
    for request_tool in access_request.tools.all():
        is_approved = request_tool.status == RequestTool.Status.APPROVED
        (approved if is_approved else denied).append(request_tool.tool.key)
    expires = access_request.grant_expires_at
    if expires is None:
        text = f"Approved for this call only: {', '.join(approved)}."
    else:
        until = timezone.localtime(expires).strftime("%d %b %Y %H:%M %Z")
        how_long = duration_label(expires - access_request.decided_at)
        text = f"Approved for {how_long}, until {until}: {', '.join(approved)}."
    return text + (f" Denied: {', '.join(denied)}." if denied else "")


@dataclass(frozen=True)
class ArgumentLine:
    """One argument as the page shows it: a one-line text, and the whole value when that is cut."""

    name: str
    text: str
    full: str = ""


def argument_lines(arguments: Any) -> list[ArgumentLine]:
    """The gateway's arguments, one line each; nested and long values also whole, to expand.

    - By name, as the console shows them: PostgreSQL's jsonb keeps no order of its own to follow.
    """
    if arguments is None:
        return []
    items = sorted(arguments.items()) if isinstance(arguments, dict) else [("value", arguments)]
    return [_argument_line(str(name), value) for name, value in items]


def _argument_line(name: str, value: Any) -> ArgumentLine:
    if isinstance(value, str):
        line = whole = value
    else:  # JSON's spelling (true, null), and nested values indented when shown whole
        line, whole = json.dumps(value, ensure_ascii=False, default=str), pretty_json(value)
    if len(line) <= ARGUMENT_VALUE_CHARS and "\n" not in line:
        return ArgumentLine(name, line)
    short = line.split("\n", 1)[0][: ARGUMENT_VALUE_CHARS - 1].rstrip()
    return ArgumentLine(name, short + "…", whole)
