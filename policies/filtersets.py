"""Filters of the Policies page: a search over name and description, and the action."""

from __future__ import annotations

import django_filters

from agenwork.filters import choice_filter, search_filter
from policies.models import Policy


class PolicyFilterSet(django_filters.FilterSet):
    """`q` searches name and description; `action` keeps one action."""

    q = search_filter("Search name or description", "name", "description")
    action = choice_filter(Policy.Action.choices, label="Action", empty_label="All actions")

    class Meta:
        model = Policy
        fields = ("q", "action")
