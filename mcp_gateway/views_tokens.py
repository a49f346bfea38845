"""A person's gateway tokens on their page: the list, Create (the token shown once), Revoke.

- Admins only. The section is loaded into the person's page by htmx (the Users page lives in
  `dashboard`, which does not import this app); opened directly, the same URL is a page.
- A raw token exists only in the response to the POST that made it: never stored, never shown
  again, and that response is `Cache-Control: no-store` and kept out of htmx's history.
- Every change is a POST (CSRF-protected) through `mcp_gateway.tokens`, which writes the audit.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agenwork.lists import partial_template
from agenwork.roles import admin_required
from directory.models import Person
from mcp_gateway import selectors
from mcp_gateway.forms import DEFAULT_EXPIRY_DAYS, GatewayTokenCreateForm
from mcp_gateway.tokens import IssuedGatewayToken, gateway_token_create, gateway_token_revoke

ONLY_ADMINS = "Only admins can see and change gateway tokens."
TEMPLATE = "mcp_gateway/gatewaytoken_list.html"
SECTION_ID = "gateway-tokens"

only_admins = admin_required(ONLY_ADMINS)


def _person(pk: int) -> Person:
    person = selectors.person_for_tokens(pk)
    if person is None:
        raise Http404("No such user.")
    return person


def claude_command(raw_token: str) -> str:
    """The line that connects Claude Code to the gateway as the token's person."""
    return (
        f"claude mcp add --transport http agenwork {settings.MCP_GATEWAY_URL} "
        f'--header "Authorization: Bearer {raw_token}"'
    )


def _section(
    request: HttpRequest,
    person: Person,
    *,
    form: GatewayTokenCreateForm | None = None,
    issued: IssuedGatewayToken | None = None,
    notice: str = "",
    status: int = 200,
) -> HttpResponse:
    """The tokens section for htmx; the page around it when opened directly."""
    context: dict[str, Any] = {
        "person": person,
        "rows": selectors.person_gateway_tokens(person, now=timezone.now()),
        "form": form or GatewayTokenCreateForm(initial={"expires_in": DEFAULT_EXPIRY_DAYS}),
        "issued": issued,
        "command": claude_command(issued.raw_token) if issued else "",
        "gateway_url": settings.MCP_GATEWAY_URL,
        "notice": notice,
        "section_id": SECTION_ID,
    }
    template = partial_template(request, TEMPLATE, "tokens")
    return TemplateResponse(request, template, context, status=status)


@only_admins
@require_GET
def gateway_token_list_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The person's tokens: prefix, created, expires, last used, status; the Create form."""
    return _section(request, _person(pk))


@only_admins
@never_cache
@require_POST
def gateway_token_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Create a token; the answer shows it this once, with the line that connects Claude Code."""
    person = _person(pk)
    form = GatewayTokenCreateForm(request.POST)
    if not form.is_valid():
        return _section(request, person, form=form, status=400)
    try:
        issued = gateway_token_create(
            person=person, expires_in_days=form.cleaned_data["expires_in"], actor=request.user
        )
    except ValidationError as exc:
        for message in exc.messages:
            form.add_error("expires_in", message)
        return _section(request, person, form=form, status=400)
    return _section(request, person, issued=issued)


@only_admins
@require_http_methods(["GET", "POST"])
def gateway_token_revoke_view(request: HttpRequest, pk: int, token_pk: int) -> HttpResponse:
    """GET asks to confirm (without JavaScript); only the POST revokes, at once and for good."""
    person = _person(pk)
    token = selectors.token_of(person, token_pk)
    if token is None:
        raise Http404("No such gateway token for this user.")
    shown = selectors.shown_as(token)
    if request.method == "GET":
        context = {"person": person, "token": token, "shown_as": shown}
        return TemplateResponse(request, "mcp_gateway/gatewaytoken_revoke.html", context)
    if gateway_token_revoke(token=token, actor=request.user):
        notice = f"Revoked {shown}: its agent's calls are refused from now on."
    else:
        notice = f"{shown} was revoked already."
    if request.htmx:
        return _section(request, person, notice=notice)
    messages.success(request, notice)
    return redirect("users:detail", pk=person.pk)
