"""Filters of the Policies page: a search over name and description, and the action."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from policies.models import Policy


class PolicyFilterSet(django_filters.FilterSet):
    """`q` searches name and description; `action` keeps one action."""

    q = django_filters.CharFilter(
        method="filter_q",
        label="Search",
        widget=forms.TextInput(
            attrs={
                "class": "form-control form-control-sm",
                "type": "search",
                "placeholder": "Search name or description",
                "autocomplete": "off",
            }
        ),
    )
    action = django_filters.ChoiceFilter(
        choices=Policy.Action.choices,
        empty_label="All actions",
        label="Action",
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )

    class Meta:
        model = Policy
        fields = ("q", "action")

    def filter_q(self, queryset: QuerySet[Policy], name: str, value: str) -> QuerySet[Policy]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))
