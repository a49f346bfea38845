"""A person's own page: the agents connected for them, their gateway tokens, their requests.

- Revoke (an agent, or one of one's own gateway tokens): GET asks to confirm (without
  JavaScript), only the POST revokes, through the services that write the audit.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from oauth2_provider.models import get_application_model

from agenwork.context_processors import PERSON
from dashboard.me.selectors import RECENT_REQUESTS, my_agents, my_token
from directory.models import Person
from mcp_gateway.connections import agent_connection_revoke, connected_agents
from mcp_gateway.tokens import gateway_token_revoke
from requests_app.selectors import approver_flow_ids


def _mark_role(request: HttpRequest) -> None:
    if approver_flow_ids(request.user) == []:
        request.console_role = PERSON  # the sidebar offers this page alone


def _person(request: HttpRequest) -> Person:
    person = getattr(request.user, "person", None)
    if person is None:
        raise Http404("Your login is not linked to a person of the directory.")
    return person


@login_required
@require_GET
def my_agents_view(request: HttpRequest) -> HttpResponse:
    """The agents connected by OAuth, the gateway tokens, the latest requests."""
    person = getattr(request.user, "person", None)
    _mark_role(request)
    context = {"person": person, "recent": RECENT_REQUESTS}
    if person is not None:
        context["mine"] = my_agents(person, timezone.now())
    return render(request, "dashboard/my_agents.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def agent_revoke_view(request: HttpRequest, application_pk: int) -> HttpResponse:
    """Disconnect an agent: every token and code of that client for this person, at once."""
    person = _person(request)
    agent = next(
        (
            a
            for a in connected_agents(request.user, timezone.now())
            if a.application_id == application_pk
        ),
        None,
    )
    if agent is None:
        messages.info(request, "That agent is not connected for you (any more).")
        return redirect("me:agents")
    if request.method == "GET":
        _mark_role(request)
        context = {"person": person, "agent": agent}
        return render(request, "dashboard/my_agent_revoke.html", context)
    application = get_application_model().objects.get(pk=application_pk)
    agent_connection_revoke(user=request.user, application=application, actor=request.user)
    messages.success(
        request, f"Disconnected {agent.name}: the gateway refuses its tokens from now on."
    )
    return redirect("me:agents")


@login_required
@require_http_methods(["GET", "POST"])
def token_revoke_view(request: HttpRequest, token_pk: int) -> HttpResponse:
    """Revoke one of one's own gateway tokens (an admin's revoke, for the token's person)."""
    person = _person(request)
    token = my_token(person, token_pk)
    if token is None:
        raise Http404("No such gateway token of yours.")
    if request.method == "GET":
        _mark_role(request)
        return render(request, "dashboard/my_token_revoke.html", {"person": person, "token": token})
    if gateway_token_revoke(token=token, actor=request.user):
        messages.success(
            request, f"Revoked {token.prefix}…: its agent's calls are refused from now on."
        )
    else:
        messages.info(request, f"{token.prefix}… was revoked already.")
    return redirect("me:agents")
