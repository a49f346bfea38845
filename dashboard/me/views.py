"""A person's own page: the agents connected for them, their gateway tokens, their requests."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from agenwork.context_processors import PERSON
from dashboard.me.selectors import RECENT_REQUESTS, my_agents
from requests_app.selectors import approver_flow_ids


@login_required
@require_GET
def my_agents_view(request: HttpRequest) -> HttpResponse:
    """Read-only for now: revoking a token or a connected agent comes with OAuth sign-in."""
    person = getattr(request.user, "person", None)
    if approver_flow_ids(request.user) == []:
        request.console_role = PERSON  # the sidebar offers this page alone
    context = {"person": person, "recent": RECENT_REQUESTS}
    if person is not None:
        context["mine"] = my_agents(person, timezone.now())
    return render(request, "dashboard/my_agents.html", context)
