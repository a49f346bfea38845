"""Filters of the Users page: a search and the status (People); a search (Groups)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from agenwork.filters import choice_filter, search_filter
from directory.models import Group, Person

STATUS_CHOICES = (("active", "Active"), ("locked", "Locked"), ("deactivated", "Deactivated"))


class PersonFilterSet(django_filters.FilterSet):
    """`q` searches email and name; `status` is Active, Locked (by an admin) or Deactivated."""

    q = search_filter("Search email or name", "email", "name")
    status = choice_filter(
        STATUS_CHOICES, label="Status", empty_label="All statuses", method="filter_status"
    )

    class Meta:
        model = Person
        fields = ("q", "status")

    def filter_status(self, queryset: QuerySet[Person], name: str, value: str) -> QuerySet[Person]:
        if value == "deactivated":
            return queryset.filter(deactivated_at__isnull=False)
        return queryset.filter(status=value, deactivated_at__isnull=True)


class GroupFilterSet(django_filters.FilterSet):
    """`q` searches the group's name."""

    q = search_filter("Search groups", "name")

    class Meta:
        model = Group
        fields = ("q",)
