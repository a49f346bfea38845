"""The Requests page, the Review request panel and its actions."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_filters.views import FilterView
from django_htmx.http import trigger_client_event
from django_tables2 import SingleTableMixin

from agenwork.context_processors import PERSON
from agenwork.lists import ConsoleListMixin, panel_response, partial_template
from agenwork.pagination import DeferredJoinPaginator, capped_count
from agenwork.roles import is_admin
from agenwork.templatetags.agenwork_tags import pretty_json
from policies.forms import PolicyForm
from policies.models import Policy
from requests_app.deciding import BULK_LIMIT, request_decide
from requests_app.filtersets import AccessRequestFilterSet
from requests_app.forms import DecisionForm
from requests_app.models import AccessRequest
from requests_app.opened import opened_token, response_ms
from requests_app.outcomes import describe_decision
from requests_app.selectors import (
    approver_flow_ids,
    request_for_panel,
    request_list,
    request_notifications,
    user_may_decide,
)
from requests_app.services import (
    Actor,
    RequestAlreadyDecided,
    request_resolve_with_policy,
)
from requests_app.tables import SORT_ALIASES, AccessRequestTable
from requests_app.voting import VoteRefused, approval_progress

# Arguments of this many lines or more start folded in the panel: the decision stays in view.
ARGUMENTS_FOLD_LINES = 12
REQUESTS_CHANGED = "requests-changed"
NO_ACCESS = "Your login cannot see any request yet: ask an admin to make you an approver."


class RequestListView(ConsoleListMixin, SingleTableMixin, FilterView):
    """Pending requests by default; sort, filter and page state live in the URL.

    - Admins see every request, approvers those of their flows, anyone else a 403.
    - Pages are found by key (DeferredJoinPaginator) and never counted past `capped_count`.
    - Pending requests can be chosen with a checkbox and decided together (`requests_bulk`).
    - Any other status adds a Status column: a badge and who decided.
    """

    table_class = AccessRequestTable
    filterset_class = AccessRequestFilterSet
    template_name = "requests_app/accessrequest_list.html"
    table_id = "requests-table"
    page_sizes = settings.REQUESTS_PAGE_SIZES
    paginator_class = DeferredJoinPaginator
    sorts = SORT_ALIASES
    sort_fallback = "showing the newest requests first"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.flow_ids = approver_flow_ids(request.user)
        if self.flow_ids == []:
            request.console_role = PERSON  # the 403 page's sidebar: only what they may open
            raise PermissionDenied(NO_ACCESS)
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[AccessRequest]:
        return request_list(self.request.user, self.flow_ids)

    def get_table_kwargs(self) -> dict[str, Any]:
        pending = self.filterset.form.cleaned_data.get("status") == AccessRequest.Status.PENDING
        return {"selectable": pending, "show_status": not pending}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        filterset = context["filter"]
        total, more = capped_count(filterset.qs)
        status = filterset.form.cleaned_data.get("status", "")
        context.update(
            total=total,
            more_than_total=more,
            page_sizes=self.page_sizes,
            status_label=dict(filterset.filters["status"].extra["choices"]).get(status, ""),
            bulk=context["table"].selectable,
            bulk_limit=BULK_LIMIT,
        )
        return context


def _flow_ids(request: HttpRequest) -> list[int] | None:
    """The login's approver flows, read once per HTTP request (None for an admin)."""
    if not hasattr(request, "_approver_flow_ids"):
        request._approver_flow_ids = approver_flow_ids(request.user)
    return request._approver_flow_ids


def _panel_request(request: HttpRequest, public_id: UUID) -> AccessRequest:
    if _flow_ids(request) == []:
        request.console_role = PERSON
        raise PermissionDenied(NO_ACCESS)
    access_request = request_for_panel(request.user, public_id, _flow_ids(request))
    if access_request is None:
        raise Http404("No such request, or it is not yours to see.")
    return access_request


def _render_panel(
    request: HttpRequest,
    access_request: AccessRequest,
    *,
    form: DecisionForm | None = None,
    status: int = 200,
    confirm_deny: bool = False,
) -> HttpResponse:
    may_decide, why_not = user_may_decide(request.user, access_request, _flow_ids(request))
    arguments = "" if access_request.arguments is None else pretty_json(access_request.arguments)
    context = {
        "req": access_request,
        "form": form or DecisionForm(access_request=access_request),
        "may_decide": may_decide and access_request.is_pending,
        "why_not": why_not,
        "may_create_policy": may_decide and is_admin(request.user) and access_request.is_pending,
        "confirm_deny": confirm_deny,
        "decision_text": "" if access_request.is_pending else describe_decision(access_request),
        "notifications": request_notifications(access_request),
        "opened": opened_token(access_request.public_id),
        "arguments": arguments,
        "arguments_folded": arguments.count("\n") >= ARGUMENTS_FOLD_LINES,
    }
    return panel_response(request, "requests_app/accessrequest_detail.html", context, status=status)


@login_required
@require_GET
def request_detail(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The Review request panel (a partial for htmx; a full page when opened directly).

    - `?confirm=deny` shows the Deny confirmation, with a reason for the agent, in its action bar.
    """
    confirm_deny = request.GET.get("confirm") == "deny"
    return _render_panel(request, _panel_request(request, public_id), confirm_deny=confirm_deny)


def _after_decision(request: HttpRequest, access_request: AccessRequest) -> HttpResponse:
    if request.htmx:
        return trigger_client_event(_render_panel(request, access_request), REQUESTS_CHANGED)
    return redirect("requests_app:detail", public_id=access_request.public_id)


def _decide(request: HttpRequest, public_id: UUID, *, approve: bool) -> HttpResponse:
    access_request = _panel_request(request, public_id)
    may_decide, why_not = user_may_decide(request.user, access_request, _flow_ids(request))
    if not may_decide:
        raise PermissionDenied(why_not)
    form = DecisionForm(request.POST, access_request=access_request)
    if not form.is_valid() or (approve and not form.require_tools()):
        return _render_panel(
            request, access_request, form=form, status=400, confirm_deny=not approve
        )
    try:
        request_decide(
            access_request=access_request,
            user=request.user,
            approve=approve,
            tool_ids=form.cleaned_data["tools"] if approve else None,
            duration=form.grant_duration if approve else None,
            comment=form.cleaned_data["comment"],
            response_ms=response_ms(request.POST.get("opened", ""), access_request.public_id),
        )
    except RequestAlreadyDecided as exc:
        messages.warning(request, f"Someone else decided first: {exc}.")
        return _after_decision(request, _panel_request(request, public_id))
    except VoteRefused as exc:
        messages.error(request, str(exc))
        return _after_decision(request, _panel_request(request, public_id))
    if access_request.is_pending:
        progress = approval_progress(access_request)
        messages.success(request, f"Your approval is recorded: {progress} so far.")
    else:
        verb = "Approved" if approve else "Denied"
        messages.success(request, f"{verb} the request of {access_request.requester_name}.")
    return _after_decision(request, _panel_request(request, public_id))


@login_required
@require_POST
def request_approve_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Approve all or some tools, once or for a while."""
    return _decide(request, public_id, approve=True)


@login_required
@require_POST
def request_deny_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Deny the request."""
    return _decide(request, public_id, approve=False)


@login_required
@require_http_methods(["GET", "POST"])
def request_create_policy(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """A policy form pre-filled from the request; saving it resolves the request by the policy."""
    access_request = _panel_request(request, public_id)
    may_decide, why_not = user_may_decide(request.user, access_request, _flow_ids(request))
    if not (may_decide and is_admin(request.user)):
        raise PermissionDenied(why_not or "Only admins create policies.")
    if request.method == "POST":
        form = PolicyForm(request.POST, connector=access_request.connector)
        if form.is_valid():
            return _save_policy(request, access_request, form)
    else:
        form = PolicyForm(
            initial=_policy_initial(access_request), connector=access_request.connector
        )
    template = partial_template(request, "requests_app/request_create_policy.html", "form")
    status = 400 if form.is_bound else 200
    return render(request, template, {"req": access_request, "form": form}, status=status)


def _policy_initial(access_request: AccessRequest) -> dict[str, Any]:
    return {
        "name": f"{access_request.requester_name} · {access_request.connector.name}",
        "connector": access_request.connector,
        "tools": [rt.tool for rt in access_request.tools.all()],
        "users": [access_request.requester],
        "action": Policy.Action.ALLOW,
        "enabled": True,
    }


def _save_policy(request: HttpRequest, access_request: AccessRequest, form: PolicyForm):
    try:
        policy, resolved = request_resolve_with_policy(
            access_request=access_request, data=form.to_data(), actor=Actor.for_user(request.user)
        )
    except RequestAlreadyDecided as exc:
        messages.warning(request, f"No policy saved: {exc}.")
    else:
        outcome = (
            "still pending: the policy does not allow or deny"
            if resolved.is_pending
            else resolved.get_status_display().lower()
        )
        messages.success(request, f"Saved the policy “{policy.name}”; the request is {outcome}.")
    return _after_decision(request, _panel_request(request, access_request.public_id))
