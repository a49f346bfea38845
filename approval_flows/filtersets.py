"""Filters of the Approval flows page: a search over name and description, and the channel."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from agenwork.filters import choice_filter, search_filter
from approval_flows.models import ApprovalFlow

CHANNEL_FIELDS = {"email": "channel_email", "sms": "channel_sms"}


class ApprovalFlowFilterSet(django_filters.FilterSet):
    """`q` searches name and description; `channel` keeps the flows that use Email, or SMS."""

    q = search_filter("Search name or description", "name", "description")
    channel = choice_filter(
        (("email", "Email"), ("sms", "SMS")),
        label="Channel",
        empty_label="All channels",
        method="filter_channel",
    )

    class Meta:
        model = ApprovalFlow
        fields = ("q", "channel")

    def filter_channel(
        self, queryset: QuerySet[ApprovalFlow], name: str, value: str
    ) -> QuerySet[ApprovalFlow]:
        return queryset.filter(**{CHANNEL_FIELDS[value]: True})
