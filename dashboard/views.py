"""The Dashboard: the pending requests to look at first, and the figures an admin watches."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from agenwork.lists import swaps_part
from dashboard.charts import connectors_chart, decisions_chart, time_to_decision_chart
from dashboard.figures import (
    RUBBER_STAMP_MS,
    Scope,
    dashboard_figures,
    duration_text,
    figures_max_age,
)
from requests_app.models import AccessRequest
from requests_app.selectors import approver_flow_ids, request_list

PENDING_WIDGET_SIZE = 8


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Admins: every request and approver; approvers: their flows and their own figures.

    - Anyone else who is a person of the directory is sent to their own page (My agents).
    """
    flow_ids = approver_flow_ids(request.user)
    if flow_ids == [] and getattr(request.user, "person", None) is not None:
        return redirect("me:agents")  # a person who decides nothing: their own page
    if flow_ids == []:
        raise PermissionDenied("Your login has no access to agenwork yet. Ask an admin.")
    pending = request_list(request.user, flow_ids).filter(status=AccessRequest.Status.PENDING)
    rows = list(pending.order_by("-requested_at", "-id")[: PENDING_WIDGET_SIZE + 1])
    widget = {
        "pending_rows": rows[:PENDING_WIDGET_SIZE],
        "more_pending": len(rows) > PENDING_WIDGET_SIZE,
    }
    if swaps_part(request, target="pending-widget"):  # reloaded after a decision
        return render(request, "dashboard/home.html#pending_widget", widget)
    figures = dashboard_figures(Scope(flow_ids=flow_ids, user=request.user))
    return render(
        request,
        "dashboard/home.html",
        {
            **widget,
            "figures": figures,
            "oldest_pending_age": oldest_age(figures.oldest_pending_at),
            "charts": [
                decisions_chart(figures),
                time_to_decision_chart(figures),
                connectors_chart(figures),
            ],
            "all_approvers": flow_ids is None,
            "rubber_stamp_seconds": RUBBER_STAMP_MS // 1000,
            "refresh_period": refresh_period(figures_max_age()),
        },
    )


def oldest_age(oldest: datetime | None) -> str:
    """How long the oldest pending request has waited, or "" when none is waiting."""
    return "" if oldest is None else duration_text(timezone.now() - oldest)


def refresh_period(max_age: timedelta) -> str:
    """How often the figures refresh, as the page says it: "minute", "5 min", "30 s"."""
    return "minute" if max_age == timedelta(minutes=1) else duration_text(max_age)
