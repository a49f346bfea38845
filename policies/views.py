"""The Policies page, its side panel (view, create, edit, delete), the simulator and the preview."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_filters.views import FilterView
from django_htmx.http import push_url, trigger_client_event
from django_tables2 import SingleTableMixin

from agenwork.lists import AdminListMixin, panel_response, partial_template
from agenwork.roles import admin_required as roles_admin_required
from policies import selectors, services
from policies.evaluation import InvalidCall, evaluate
from policies.filtersets import PolicyFilterSet
from policies.forms import PolicyForm, SimulateForm, policy_initial
from policies.models import Policy
from policies.simulator import policy_names
from policies.snapshot import current_snapshot
from policies.tables import PolicyTable

POLICIES_CHANGED = "policies-changed"
ONLY_ADMINS = "Only admins can see and change policies."
ACTION_LABELS = dict(Policy.Action.choices)


admin_required = roles_admin_required(ONLY_ADMINS)


class PolicyListView(AdminListMixin, SingleTableMixin, FilterView):
    """Every policy; search, action filter, sort and page live in the URL."""

    table_class = PolicyTable
    filterset_class = PolicyFilterSet
    template_name = "policies/policy_list.html"
    table_id = "policies-table"
    only_admins = ONLY_ADMINS

    def get_queryset(self) -> QuerySet[Policy]:
        return selectors.policy_list()


def _panel(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    """The policies template's panel (see agenwork.lists.panel_response)."""
    return panel_response(request, f"policies/{template}", context, status=status)


def _policy(pk: int) -> Policy:
    policy = selectors.policy_for_panel(pk)
    if policy is None:
        raise Http404("No such policy: it may have been deleted.")
    return policy


@admin_required
@require_GET
def policy_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    """One policy in the panel."""
    return _panel(request, "policy_detail.html", {"policy": _policy(pk)})


def _render_form(
    request: HttpRequest, form: PolicyForm, *, policy: Policy | None, status: int = 200
) -> HttpResponse:
    return _panel(request, "policy_form.html", {"form": form, "policy": policy}, status=status)


def _after_save(request: HttpRequest, policy: Policy, verb: str) -> HttpResponse:
    """The saved policy in the panel, and the table told to reload; a redirect without htmx."""
    messages.success(request, f"{verb} the policy “{policy.name}”.")
    url = reverse("policies:detail", args=[policy.pk])
    if not request.htmx:
        return redirect(url)
    response = _panel(request, "policy_detail.html", {"policy": _policy(policy.pk)})
    return push_url(trigger_client_event(response, POLICIES_CHANGED), url)


@admin_required
@require_http_methods(["GET", "POST"])
def policy_create_view(request: HttpRequest) -> HttpResponse:
    """The policy form in the panel; a valid POST creates the policy."""
    if request.method == "GET":
        connector = request.GET.get("connector") or None
        initial = {"enabled": True, "connector": connector}
        return _render_form(request, PolicyForm(initial=initial), policy=None)
    form = PolicyForm(request.POST)
    if not form.is_valid():
        return _render_form(request, form, policy=None, status=400)
    policy = services.policy_create(
        data=form.to_data(), created_by=request.user, actor=request.user
    )
    return _after_save(request, policy, "Created")


@admin_required
@require_http_methods(["GET", "POST"])
def policy_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The policy form, filled in; a valid POST saves every field."""
    policy = _policy(pk)
    if request.method == "GET":
        form = PolicyForm(initial=policy_initial(policy), policy=policy)
        return _render_form(request, form, policy=policy)
    form = PolicyForm(request.POST, policy=policy)
    if not form.is_valid():
        return _render_form(request, form, policy=policy, status=400)
    try:
        saved = services.policy_update(policy=policy, data=form.to_data(), actor=request.user)
    except Policy.DoesNotExist:
        raise Http404("No such policy: it was deleted meanwhile.") from None
    return _after_save(request, saved, "Saved")


@admin_required
@require_http_methods(["GET", "POST"])
def policy_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm and shows what goes; only the POST deletes."""
    policy = _policy(pk)
    if request.method == "GET":
        return _panel(request, "policy_confirm_delete.html", {"policy": policy})
    try:
        services.policy_delete(policy=policy, actor=request.user)
    except Policy.DoesNotExist:
        raise Http404("No such policy: it was deleted meanwhile.") from None
    messages.success(request, f"Deleted the policy “{policy.name}”.")
    list_url = reverse("policies:list")
    if not request.htmx:
        return redirect(list_url)
    context = {"policy": policy, "deleted": True}
    response = _panel(request, "policy_confirm_delete.html", context)
    return push_url(trigger_client_event(response, POLICIES_CHANGED), list_url)


@admin_required
@require_GET
def policy_tools_view(request: HttpRequest) -> HttpResponse:
    """The tools checkboxes of one connector, for the policy form when its connector changes."""
    form = PolicyForm(initial={"connector": request.GET.get("connector")})
    return render(request, "policies/_policy_tools.html", {"field": form["tools"]})


@admin_required
@require_GET
def policy_simulate_view(request: HttpRequest) -> HttpResponse:
    """Test a call: the decision today's policies give, explained. Changes nothing."""
    snapshot = current_snapshot()
    run = "user" in request.GET and "refresh" not in request.GET
    if run:
        form = SimulateForm(request.GET, snapshot=snapshot)
    else:
        initial = {key: request.GET.get(key, "") for key in ("user", "connector")}
        form = SimulateForm(initial=initial, snapshot=snapshot)
    context: dict[str, Any] = {"form": form, "decision": None, "labels": ACTION_LABELS}
    if run and form.is_valid():
        try:
            decision = evaluate(snapshot, form.to_call(), now=timezone.now())
        except InvalidCall as exc:
            form.add_error(None, str(exc))
        else:
            context.update(decision=decision, names=policy_names(snapshot))
    status = 400 if run and form.errors else 200
    return _panel(request, "policy_simulate.html", context, status=status)


@admin_required
@require_POST
def policy_preview_view(request: HttpRequest) -> HttpResponse:
    """What would change: replay the last 30 days of calls with the draft. Saves nothing."""
    replaced = _policy(_int(request.GET.get("policy"))) if request.GET.get("policy") else None
    form = PolicyForm(request.POST, policy=replaced)
    context: dict[str, Any] = {"form": form, "policy": replaced, "preview": None, "previewed": True}
    if form.is_valid():
        context["preview"] = selectors.policy_preview(
            data=form.to_data(), replaced=replaced, now=timezone.now()
        )
    status = 200 if form.is_valid() else 400
    template = partial_template(request, "policies/policy_form.html", "preview")
    return render(request, template, context, status=status)


def _int(raw: str | None) -> int:
    try:
        return int(raw or "")
    except ValueError:
        raise Http404("No such policy.") from None
