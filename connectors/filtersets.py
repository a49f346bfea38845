"""Filters of the Connectors page: a search over name and slug, status and enabled state."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from connectors.models import Connector


class ConnectorFilterSet(django_filters.FilterSet):
    """`q` searches name and slug; `status` keeps one status."""

    q = django_filters.CharFilter(
        method="filter_q",
        label="Search",
        widget=forms.TextInput(
            attrs={
                "class": "form-control form-control-sm",
                "type": "search",
                "placeholder": "Search name or slug",
                "autocomplete": "off",
            }
        ),
    )
    status = django_filters.ChoiceFilter(
        choices=Connector.Status.choices,
        empty_label="All statuses",
        label="Status",
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )

    class Meta:
        model = Connector
        fields = ("q", "status")

    def filter_q(self, queryset: QuerySet[Connector], name: str, value: str) -> QuerySet[Connector]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(slug__icontains=value))
