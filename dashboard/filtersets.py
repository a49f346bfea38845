"""Filters of the Activity page: each one narrows by a column an index leads with, or by time."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from audit.models import AuditEntry
from connectors.models import Connector
from directory.models import Person
from policies.evaluation import ALLOW, APPROVAL_REQUIRED, DENY, STEP_UP
from policies.models import DecisionLog

DECISION_CHOICES = (
    (ALLOW, "Allow"),
    (STEP_UP, "Step up"),
    (APPROVAL_REQUIRED, "Approval required"),
    (DENY, "Deny"),
)
# What the services record as AuditEntry.object_type, with how the page names them.
OBJECT_TYPES = (
    ("policy", "Policy"),
    ("approval_flow", "Approval flow"),
    ("connector", "Connector"),
    ("person", "Person"),
    ("group", "Group"),
    ("api_key", "API key"),
)
SELECT = {"class": "form-select form-select-sm"}
TEXT = {"class": "form-control form-control-sm"}


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={**TEXT, "type": "date"}, format="%Y-%m-%d")


class EmailFilter(django_filters.CharFilter):
    """A CharFilter whose value must be an email address."""

    field_class = forms.EmailField


class DateRangeForm(forms.Form):
    """The filter form, which also checks that From is not after To."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "This date is before the From date.")
        return cleaned


def day_start(day: date) -> datetime:
    """Midnight at the start of `day`, in the console's time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def day_end(day: date) -> datetime:
    """The last instant of `day`, in the console's time zone (no overflow on 9999-12-31)."""
    return timezone.make_aware(datetime.combine(day, time.max))


class DateRangeFilterSet(django_filters.FilterSet):
    """From and To dates, both included, over `created_at` (which every activity index sorts by)."""

    since = django_filters.DateFilter(label="From", method="filter_since", widget=_date_widget())
    until = django_filters.DateFilter(label="To", method="filter_until", widget=_date_widget())

    def filter_since(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        return queryset.filter(created_at__gte=day_start(value))

    def filter_until(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        return queryset.filter(created_at__lte=day_end(value))


class DecisionLogFilterSet(DateRangeFilterSet):
    """User (an email, any case), connector (by slug), decision, and the date range."""

    user = EmailFilter(
        label="User",
        method="filter_user",
        max_length=254,
        widget=forms.EmailInput(attrs={**TEXT, "placeholder": "ana@example.com"}),
    )
    connector = django_filters.ChoiceFilter(
        label="Connector",
        choices=(),
        empty_label="All connectors",
        method="filter_connector",
        widget=forms.Select(attrs=SELECT),
    )
    decision = django_filters.ChoiceFilter(
        label="Decision",
        choices=DECISION_CHOICES,
        empty_label="All decisions",
        widget=forms.Select(attrs=SELECT),
    )

    class Meta:
        model = DecisionLog
        fields = ("user", "connector", "decision", "since", "until")
        form = DateRangeForm

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One query gives the choices and, on filtering, the connector's id (its index leads).
        connectors = list(Connector.objects.order_by("name").values_list("id", "slug", "name"))
        self.connector_ids = {slug: pk for pk, slug, _ in connectors}
        self.filters["connector"].extra["choices"] = [(slug, name) for _, slug, name in connectors]

    def filter_user(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """The person with this email when there is one (by index), else the user as sent.

        - Decisions made before that person was known (no `person`) are not found: an OR on
          `user_ref` would give up the (person, -created_at) index.
        """
        person_ids = list(
            Person.objects.alias(email_lower=Lower("email"))
            .filter(email_lower=value.lower())
            .values_list("pk", flat=True)
        )
        if person_ids:
            return queryset.filter(person_id__in=person_ids)
        # lower(user_ref) has no index yet: this (rarer) case scans the time index.
        return queryset.alias(user_ref_lower=Lower("user_ref")).filter(user_ref_lower=value.lower())

    def filter_connector(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(connector_id=self.connector_ids[value])


class AuditEntryFilterSet(DateRangeFilterSet):
    """Who (part of the name), object type, and the date range."""

    actor = django_filters.CharFilter(
        label="Who",
        field_name="actor_name",
        lookup_expr="icontains",
        max_length=200,
        widget=forms.TextInput(attrs={**TEXT, "placeholder": "Name contains"}),
    )
    object_type = django_filters.ChoiceFilter(
        label="Object",
        choices=OBJECT_TYPES,
        empty_label="All objects",
        widget=forms.Select(attrs=SELECT),
    )

    class Meta:
        model = AuditEntry
        fields = ("actor", "object_type", "since", "until")
        form = DateRangeForm
