"""The Users page (Users and Groups tabs), a person's and a group's panel, Lock and Unlock."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_filters.views import FilterView
from django_htmx.http import push_url, trigger_client_event
from django_tables2 import SingleTableMixin

from agenwork.lists import AdminListMixin, panel_response
from agenwork.roles import admin_required
from dashboard.users import selectors
from dashboard.users.filtersets import GroupFilterSet, PersonFilterSet
from dashboard.users.tables import GroupTable, PersonTable
from directory.services import PersonAlreadyInState, person_lock, person_unlock
from policies.models import Policy

ONLY_ADMINS = "Only admins can see users and groups."
PEOPLE_CHANGED = "people-changed"
MEMBERS_PER_PAGE = 25
ACTION_LABELS = dict(Policy.Action.choices)

only_admins = admin_required(ONLY_ADMINS)


class _ListView(AdminListMixin, SingleTableMixin, FilterView):
    """A tab of the Users page: filters, sort and page in the URL; htmx swaps the table."""

    only_admins = ONLY_ADMINS
    tab = ""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(tab=self.tab, table_id=self.table_id)
        return context


class PersonListView(_ListView):
    """The Users tab: everyone the identity provider knows."""

    table_class = PersonTable
    filterset_class = PersonFilterSet
    template_name = "directory/person_list.html"
    table_id = "people-table"
    tab = "users"

    def get_queryset(self):
        return selectors.person_list()


class GroupListView(_ListView):
    """The Groups tab."""

    table_class = GroupTable
    filterset_class = GroupFilterSet
    template_name = "directory/group_list.html"
    table_id = "groups-table"
    tab = "groups"

    def get_queryset(self):
        return selectors.group_list()


def _panel(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """The directory template's panel (see agenwork.lists.panel_response)."""
    return panel_response(request, f"directory/{template}", context)


def _person_context(pk: int) -> dict[str, Any]:
    person = selectors.person_for_panel(pk)
    if person is None:
        raise Http404("No such user.")
    policies = selectors.person_policies(person)
    return {
        "person": person,
        "policies": policies,
        "access": selectors.person_access(person, policies, now=timezone.now()),
        "requests": selectors.person_requests(person),
        "decisions": selectors.person_decisions(person),
        "policy_names": {policy.pk: policy.name for policy in policies},
        "labels": ACTION_LABELS,
    }


@only_admins
@require_GET
def person_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    """A person: groups, the policies that apply and what they allow, recent requests and calls."""
    return _panel(request, "person_detail.html", _person_context(pk))


def _set_lock(request: HttpRequest, pk: int, *, lock: bool) -> HttpResponse:
    person = selectors.person_for_panel(pk)
    if person is None:
        raise Http404("No such user.")
    try:
        (person_lock if lock else person_unlock)(person=person, actor=request.user)
    except PersonAlreadyInState as exc:
        messages.info(request, str(exc))
    else:
        verb = "Locked" if lock else "Unlocked"
        messages.success(request, f"{verb} {person.name}.")
    url = reverse("users:detail", args=[pk])
    if not request.htmx:
        return redirect(url)
    response = _panel(request, "person_detail.html", _person_context(pk))
    return push_url(trigger_client_event(response, PEOPLE_CHANGED), url)


@only_admins
@require_POST
def person_lock_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Lock: from the next decision on, the person's agents are denied everything."""
    return _set_lock(request, pk, lock=True)


@only_admins
@require_POST
def person_unlock_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Unlock: policies decide again."""
    return _set_lock(request, pk, lock=False)


@only_admins
@require_GET
def group_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    """A group: its members (paged) and the policies that name it."""
    group = selectors.group_for_panel(pk)
    if group is None:
        raise Http404("No such group.")
    paginator = Paginator(selectors.group_members(group), MEMBERS_PER_PAGE)
    paginator.count = group.member_count  # counted already, with the group
    members = paginator.get_page(request.GET.get("page"))
    context = {"group": group, "members": members, "policies": selectors.group_policies(group)}
    return _panel(request, "group_detail.html", context)
