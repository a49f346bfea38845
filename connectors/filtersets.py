"""Filters of the Connectors page: a search over name and slug, and the status."""

from __future__ import annotations

import django_filters

from agenwork.filters import choice_filter, search_filter
from connectors.models import Connector


class ConnectorFilterSet(django_filters.FilterSet):
    """`q` searches name and slug; `status` keeps one status."""

    q = search_filter("Search name or slug", "name", "slug")
    status = choice_filter(Connector.Status.choices, label="Status", empty_label="All statuses")

    class Meta:
        model = Connector
        fields = ("q", "status")
