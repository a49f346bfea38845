"""Filters of the Approval flows page: a search over name and description, and the channel."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from approval_flows.models import ApprovalFlow

CHANNEL_FIELDS = {"email": "channel_email", "sms": "channel_sms"}


class ApprovalFlowFilterSet(django_filters.FilterSet):
    """`q` searches name and description; `channel` keeps the flows that use Email, or SMS."""

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
    channel = django_filters.ChoiceFilter(
        choices=(("email", "Email"), ("sms", "SMS")),
        method="filter_channel",
        empty_label="All channels",
        label="Channel",
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )

    class Meta:
        model = ApprovalFlow
        fields = ("q", "channel")

    def filter_q(
        self, queryset: QuerySet[ApprovalFlow], name: str, value: str
    ) -> QuerySet[ApprovalFlow]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))

    def filter_channel(
        self, queryset: QuerySet[ApprovalFlow], name: str, value: str
    ) -> QuerySet[ApprovalFlow]:
        return queryset.filter(**{CHANNEL_FIELDS[value]: True})
