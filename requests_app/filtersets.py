"""Filters of the Requests page: connector and status, Pending by default."""

from __future__ import annotations

import django_filters
from django.http import QueryDict

from agenwork.widgets import QuickSelect
from connectors.models import Connector
from requests_app.models import AccessRequest

ALL_STATUSES = "all"


class AccessRequestFilterSet(django_filters.FilterSet):
    """Connector (by slug, so the URL reads well) and status (Pending unless asked otherwise)."""

    connector = django_filters.ModelChoiceFilter(
        queryset=Connector.objects.order_by("name").only("id", "slug", "name"),
        to_field_name="slug",
        empty_label="All connectors",
        label="Connector",
        widget=QuickSelect(attrs={"class": "form-select form-select-sm"}),
    )
    status = django_filters.ChoiceFilter(
        choices=[*AccessRequest.Status.choices, (ALL_STATUSES, "All statuses")],
        empty_label=None,
        method="filter_status",
        label="Status",
        widget=QuickSelect(attrs={"class": "form-select form-select-sm"}),
    )

    class Meta:
        model = AccessRequest
        fields = ("connector", "status")

    def __init__(self, data=None, *args, **kwargs) -> None:
        # Always bound, so that the default (Pending) is applied and validated like a choice.
        data = data.copy() if data is not None else QueryDict(mutable=True)
        if not data.get("status"):
            data["status"] = AccessRequest.Status.PENDING
        super().__init__(data, *args, **kwargs)

    def filter_status(self, queryset, name: str, value: str):
        if value == ALL_STATUSES:
            return queryset
        return queryset.filter(status=value)
