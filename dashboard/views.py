"""The Dashboard: the pending requests an admin or approver should look at first."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from requests_app.models import AccessRequest
from requests_app.selectors import approver_flow_ids, request_list

PENDING_WIDGET_SIZE = 8


@login_required
def home(request: HttpRequest) -> HttpResponse:
    flow_ids = approver_flow_ids(request.user)
    if flow_ids == []:
        raise PermissionDenied("Your login has no access to agenwork yet. Ask an admin.")
    pending = request_list(request.user, flow_ids).filter(status=AccessRequest.Status.PENDING)
    rows = list(pending.order_by("-requested_at", "-id")[: PENDING_WIDGET_SIZE + 1])
    return render(
        request,
        "dashboard/home.html",
        {
            "pending_rows": rows[:PENDING_WIDGET_SIZE],
            "more_pending": len(rows) > PENDING_WIDGET_SIZE,
        },
    )
