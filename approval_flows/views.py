"""The Approval flows page and its side panel: view, create and edit in steps, delete."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django_filters.views import FilterView
from django_htmx.http import push_url, trigger_client_event
from django_tables2 import SingleTableMixin

from agenwork.lists import AdminListMixin, panel_response
from agenwork.roles import admin_required as roles_admin_required
from approval_flows import selectors, services
from approval_flows.filtersets import ApprovalFlowFilterSet
from approval_flows.forms import (
    APPROVERS,
    NEW_FLOW_INITIAL,
    STEPS,
    FlowForm,
    Step,
    draft_with_level_added,
    draft_without_level,
    duration_text,
    flow_initial,
)
from approval_flows.models import ApprovalFlow
from approval_flows.services import MAX_LEVELS, FlowInUse
from approval_flows.tables import SORTS, ApprovalFlowTable

FLOWS_CHANGED = "flows-changed"
ONLY_ADMINS = "Only admins can see and change approval flows."
GONE = "No such approval flow: it may have been deleted."


admin_required = roles_admin_required(ONLY_ADMINS)


class FlowListView(AdminListMixin, SingleTableMixin, FilterView):
    """Every flow; search, channel filter, sort and page live in the URL."""

    table_class = ApprovalFlowTable
    filterset_class = ApprovalFlowFilterSet
    template_name = "approval_flows/approvalflow_list.html"
    table_id = "flows-table"
    only_admins = ONLY_ADMINS
    sorts = SORTS
    sort_fallback = "showing the flows by name"

    def get_queryset(self) -> QuerySet[ApprovalFlow]:
        return selectors.flow_list()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "page_sizes": self.page_sizes}


# --- the panel ------------------------------------------------------------------------------


def _panel(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    """The approval_flows template's panel (see agenwork.lists.panel_response)."""
    return panel_response(request, f"approval_flows/{template}", context, status=status)


def _flow(pk: int) -> ApprovalFlow:
    flow = selectors.flow_for_panel(pk)
    if flow is None:
        raise Http404(GONE)
    return flow


def _timing(flow: ApprovalFlow) -> list[tuple[str, str]]:
    """The flow's clock as the panel reads it."""
    reminders = "Never"
    if flow.reminder_after:
        reminders = f"After {duration_text(flow.reminder_after)}"
        if flow.reminder_repeat:
            reminders += f", then every {duration_text(flow.reminder_repeat)}"
        reminders += f" (at most {flow.max_reminders})"
    escalate = f"After {duration_text(flow.escalate_after)}" if flow.escalate_after else "Never"
    timeout = "Never: a request waits until someone decides"
    if flow.timeout_after is not None:
        timeout = f"After {duration_text(flow.timeout_after)}: {flow.get_timeout_action_display()}"
    return [
        ("Reminders", reminders),
        ("Escalation", escalate),
        ("Timeout", timeout),
        ("Requester", "Told the outcome" if flow.notify_requester else "Not told the outcome"),
    ]


def _detail(request: HttpRequest, flow: ApprovalFlow) -> HttpResponse:
    context = {"flow": flow, "usage": selectors.flow_usage(flow), "timing": _timing(flow)}
    return _panel(request, "approvalflow_detail.html", context)


@admin_required
@require_GET
def flow_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    """One flow in the panel, with what uses it."""
    return _detail(request, _flow(pk))


def _render_form(
    request: HttpRequest,
    form: FlowForm,
    *,
    flow: ApprovalFlow | None,
    step: Step,
    show_errors: bool = False,
    refusal: FlowInUse | None = None,
    status: int = 200,
) -> HttpResponse:
    steps = [
        {"step": s, "current": s == step, "has_errors": show_errors and form.step_has_errors(s)}
        for s in STEPS
    ]
    context = {
        "form": form,
        "flow": flow,
        "step": step,
        "steps": steps,
        "last_step": step == STEPS[-1],
        # Errors show on the step displayed only: the others have not been tried yet.
        "show": {s.slug: show_errors and s == step for s in STEPS},
        "refusal": refusal,
        "max_levels": MAX_LEVELS,
        "action": reverse("approval_flows:edit", args=[flow.pk])
        if flow
        else reverse("approval_flows:create"),
    }
    return _panel(request, "approvalflow_form.html", context, status=status)


def _after_save(request: HttpRequest, flow: ApprovalFlow, verb: str) -> HttpResponse:
    """The saved flow in the panel and the table told to reload; a redirect without htmx."""
    messages.success(request, f"{verb} the flow “{flow.name}”.")
    url = reverse("approval_flows:detail", args=[flow.pk])
    if not request.htmx:
        return redirect(url)
    response = _detail(request, _flow(flow.pk))
    return push_url(trigger_client_event(response, FLOWS_CHANGED), url)


@admin_required
@require_http_methods(["GET", "POST"])
def flow_create_view(request: HttpRequest) -> HttpResponse:
    """The flow form, step by step; the final Save creates the flow."""
    if request.method == "GET":
        form = FlowForm(initial=NEW_FLOW_INITIAL)
        return _render_form(request, form, flow=None, step=STEPS[0])
    return _wizard_post(request, flow=None)


@admin_required
@require_http_methods(["GET", "POST"])
def flow_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The flow form filled in; Save (on any step) saves every field."""
    flow = _flow(pk)
    if request.method == "GET":
        form = FlowForm(initial=flow_initial(flow), flow=flow)
        return _render_form(request, form, flow=flow, step=STEPS[0])
    return _wizard_post(request, flow=flow)


# --- the steps ------------------------------------------------------------------------------


def _nav(data: QueryDict) -> tuple[Step, str, int]:
    """The posted step, the button pressed (`save`, `goto`, `add-level`, `remove-level`), a number.

    - `next` and `back` are `goto` the neighbouring step; `next` on the last step is `save`.
    - A POST without any button (a script, a test) saves.
    """
    try:
        current = STEPS[min(max(int(data.get("step", "1")), 1), len(STEPS)) - 1]
    except ValueError:
        current = STEPS[0]
    button = data.get("nav", "save")
    if button == "next" and current == STEPS[-1]:
        return current, "save", 0
    if button == "next":
        return current, "goto", current.number + 1
    if button == "back":
        return current, "goto", max(current.number - 1, 1)
    action, _, number = button.rpartition("-")
    if action in ("goto", "remove-level") and number.isdigit():
        return current, action, int(number)
    return current, ("add-level" if button == "add-level" else "save"), 0


def _wizard_post(request: HttpRequest, *, flow: ApprovalFlow | None) -> HttpResponse:
    """Move between steps, add or remove a level, or save; nothing is stored before Save."""
    current, action, number = _nav(request.POST)
    if action in ("add-level", "remove-level"):
        data = (
            draft_with_level_added(request.POST)
            if action == "add-level"
            else draft_without_level(request.POST, number)
        )
        return _render_form(request, FlowForm(data, flow=flow), flow=flow, step=APPROVERS)
    form = FlowForm(request.POST, flow=flow)
    if action == "save":
        return _save(request, form, flow=flow)
    target = STEPS[min(max(number, 1), len(STEPS)) - 1]
    # Going forward checks the steps passed over; going back keeps the draft as it is.
    stuck = form.first_invalid_step(current.number, target.number - 1)
    if stuck is not None:
        return _render_form(request, form, flow=flow, step=stuck, show_errors=True, status=400)
    return _render_form(request, form, flow=flow, step=target)


def _save(request: HttpRequest, form: FlowForm, *, flow: ApprovalFlow | None) -> HttpResponse:
    """Save a valid draft; otherwise show the first step to fix (409 when it is still in use)."""
    if form.is_valid():
        try:
            return _save_valid(request, form, flow=flow)
        except ValidationError as exc:
            form.add_service_errors(exc)
        except FlowInUse as exc:
            form.add_error("enabled", str(exc))
            return _render_form(
                request, form, flow=flow, step=STEPS[0], show_errors=True, refusal=exc, status=409
            )
    step = form.first_invalid_step() or STEPS[0]
    return _render_form(request, form, flow=flow, step=step, show_errors=True, status=400)


def _save_valid(request: HttpRequest, form: FlowForm, *, flow: ApprovalFlow | None) -> HttpResponse:
    data = form.to_data()
    if flow is None:
        created = services.approval_flow_create(data=data, actor=request.user)
        return _after_save(request, created, "Created")
    try:
        saved = services.approval_flow_update(flow=flow, data=data, actor=request.user)
    except ApprovalFlow.DoesNotExist:
        raise Http404(GONE) from None
    return _after_save(request, saved, "Saved")


# --- delete ---------------------------------------------------------------------------------


@admin_required
@require_http_methods(["GET", "POST"])
def flow_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm (or says what still uses the flow); only the POST deletes."""
    flow = _flow(pk)
    if request.method == "GET":
        context = {"flow": flow, "usage": selectors.flow_usage(flow)}
        return _panel(request, "approvalflow_confirm_delete.html", context)
    try:
        services.approval_flow_delete(flow=flow, actor=request.user)
    except FlowInUse as exc:
        context = {"flow": flow, "usage": exc.usage, "refusal": exc}
        return _panel(request, "approvalflow_confirm_delete.html", context, status=409)
    except ApprovalFlow.DoesNotExist:
        raise Http404(GONE) from None
    messages.success(request, f"Deleted the flow “{flow.name}”.")
    list_url = reverse("approval_flows:list")
    if not request.htmx:
        return redirect(list_url)
    response = _panel(request, "approvalflow_confirm_delete.html", {"flow": flow, "deleted": True})
    return push_url(trigger_client_event(response, FLOWS_CHANGED), list_url)
