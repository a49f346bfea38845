"""The filters of the Activity trail: who, what kind, which object, which days.

The trail reads three tables, so its filters are a plain form whose cleaned values
`dashboard.activity` applies to each source (a FilterSet is bound to one model).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django import forms
from django.utils import timezone

from agenwork.widgets import QuickSelect
from dashboard.activity_kinds import KIND_CHOICES, OBJECT_TYPES

SELECT = {"class": "form-select form-select-sm"}
TEXT = {"class": "form-control form-control-sm"}


def day_start(day: date) -> datetime:
    """Midnight at the start of `day`, in the console's time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def day_end(day: date) -> datetime:
    """The last instant of `day`, in the console's time zone (no overflow on 9999-12-31)."""
    return timezone.make_aware(datetime.combine(day, time.max))


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={**TEXT, "type": "date"}, format="%Y-%m-%d")


class ActivityFilterForm(forms.Form):
    """Who (part of a name or an email), kind, object type and id, From and To (both included)."""

    actor = forms.CharField(
        label="Who",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={**TEXT, "placeholder": "Name or email contains"}),
    )
    kind = forms.ChoiceField(
        label="Kind",
        required=False,
        choices=[("", "Everything"), *KIND_CHOICES],
        widget=QuickSelect(attrs=SELECT),
    )
    object_type = forms.ChoiceField(
        label="Object",
        required=False,
        choices=[("", "All objects"), *OBJECT_TYPES],
        widget=QuickSelect(attrs=SELECT),
    )
    object_id = forms.CharField(
        label="Object id",
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={**TEXT, "placeholder": "id or request UUID", "size": 14}),
    )
    since = forms.DateField(label="From", required=False, widget=_date_widget())
    until = forms.DateField(label="To", required=False, widget=_date_widget())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "This date is before the From date.")
        return cleaned
