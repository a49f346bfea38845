"""Filters of the Users page: a search and the status (People); a search (Groups)."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from directory.models import Group, Person

STATUS_CHOICES = (("active", "Active"), ("locked", "Locked"), ("deactivated", "Deactivated"))


def _search(placeholder: str) -> forms.TextInput:
    return forms.TextInput(
        attrs={
            "class": "form-control form-control-sm",
            "type": "search",
            "placeholder": placeholder,
            "autocomplete": "off",
        }
    )


class PersonFilterSet(django_filters.FilterSet):
    """`q` searches email and name; `status` is Active, Locked (by an admin) or Deactivated."""

    q = django_filters.CharFilter(
        method="filter_q", label="Search", widget=_search("Search email or name")
    )
    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES,
        method="filter_status",
        empty_label="All statuses",
        label="Status",
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )

    class Meta:
        model = Person
        fields = ("q", "status")

    def filter_q(self, queryset: QuerySet[Person], name: str, value: str) -> QuerySet[Person]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(email__icontains=value) | Q(name__icontains=value))

    def filter_status(self, queryset: QuerySet[Person], name: str, value: str) -> QuerySet[Person]:
        if value == "deactivated":
            return queryset.filter(deactivated_at__isnull=False)
        return queryset.filter(status=value, deactivated_at__isnull=True)


class GroupFilterSet(django_filters.FilterSet):
    """`q` searches the group's name."""

    q = django_filters.CharFilter(
        method="filter_q", label="Search", widget=_search("Search groups")
    )

    class Meta:
        model = Group
        fields = ("q",)

    def filter_q(self, queryset: QuerySet[Group], name: str, value: str) -> QuerySet[Group]:
        value = value.strip()
        return queryset.filter(name__icontains=value) if value else queryset
