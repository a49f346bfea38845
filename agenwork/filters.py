"""The filters the console's list pages share: the search box and a one-choice select."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from agenwork.widgets import QuickSelect


def search_filter(placeholder: str, *fields: str) -> django_filters.CharFilter:
    """A `q` search box: the trimmed text, any case, inside any of `fields`; blank keeps all."""

    def search(queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        found = Q()
        for field in fields:
            found |= Q(**{f"{field}__icontains": value})
        return queryset.filter(found)

    widget = forms.TextInput(
        attrs={
            "class": "form-control form-control-sm",
            "type": "search",
            "placeholder": placeholder,
            "autocomplete": "off",
        }
    )
    return django_filters.CharFilter(method=search, label="Search", widget=widget)


def choice_filter(
    choices: Sequence[tuple[str, str]],
    *,
    label: str,
    empty_label: str,
    method: str | Callable[..., Any] | None = None,
) -> django_filters.ChoiceFilter:
    """A small select: one of `choices` or all; a value not among them is a form error."""
    extra = {"method": method} if method else {}
    return django_filters.ChoiceFilter(
        choices=choices,
        empty_label=empty_label,
        label=label,
        widget=QuickSelect(attrs={"class": "form-select form-select-sm"}),
        **extra,
    )
