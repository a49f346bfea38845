"""Deciding several requests at once from the Requests page: a confirmation, then the outcome."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from agenwork.context_processors import PERSON
from agenwork.lists import panel_response
from requests_app.deciding import BULK_LIMIT, requests_decide_bulk
from requests_app.forms import BulkDecisionForm
from requests_app.selectors import approver_flow_ids, bulk_candidates
from requests_app.views import NO_ACCESS, REQUESTS_CHANGED

TEMPLATE = "requests_app/requests_bulk.html"


@login_required
@require_POST
def requests_bulk(request: HttpRequest) -> HttpResponse:
    """Show what a bulk decision takes; with `confirm`, decide each of those requests on its own.

    - The confirmation lists the very requests it will decide and carries their ids, so a request
      that arrives between the two steps is never decided unseen.
    """
    flow_ids = approver_flow_ids(request.user)
    if flow_ids == []:
        request.console_role = PERSON  # the 403 page's sidebar: only what they may open
        raise PermissionDenied(NO_ACCESS)
    form = BulkDecisionForm(request.POST)
    # What the panel's title says, even when the form is refused.
    action = "deny" if request.POST.get("action") == "deny" else "approve"
    if not form.is_valid():
        return panel_response(request, TEMPLATE, {"form": form, "action": action}, status=400)
    cleaned = form.cleaned_data
    ids = None if cleaned["scope"] == "matching" else cleaned["ids"]
    chosen, more = bulk_candidates(
        request.user, flow_ids, ids=ids, connector_slug=cleaned["connector"], limit=BULK_LIMIT
    )
    context = {"form": form, "action": action, "chosen": chosen, "more": more, "limit": BULK_LIMIT}
    if ids is not None:
        context["missing"] = len(ids) - len(chosen)
    if not cleaned["confirm"]:
        context["pending"] = [r for r in chosen if r.is_pending]
        return panel_response(request, TEMPLATE, context)
    context["outcome"] = requests_decide_bulk(
        requests=chosen,
        user=request.user,
        approve=form.approve,
        flow_ids=flow_ids,
        duration=form.grant_duration,
        comment=cleaned["comment"],
    )
    response = panel_response(request, TEMPLATE, context)
    return trigger_client_event(response, REQUESTS_CHANGED) if request.htmx else response
