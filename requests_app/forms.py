"""The decision form of the review panel."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from django import forms

from requests_app.deciding import BULK_LIMIT
from requests_app.models import AccessRequest
from requests_app.services import GRANT_DURATIONS

DURATION_CHOICES = [
    ("once", "This call only"),
    ("1h", "For 1 hour"),
    ("8h", "For 8 hours"),
    ("24h", "For 24 hours"),
]


class DecisionForm(forms.Form):
    """Which tools to approve, for how long, and an optional comment for the gateway."""

    tools = forms.TypedMultipleChoiceField(
        coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    duration = forms.ChoiceField(choices=DURATION_CHOICES, initial="once", required=False)
    comment = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Optional, returned to the agent"}),
    )

    def __init__(self, *args: Any, access_request: AccessRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tools = [rt.tool for rt in access_request.tools.all()]
        self.fields["tools"].choices = [(tool.pk, tool.key) for tool in tools]
        self.fields["tools"].initial = [tool.pk for tool in tools]

    @property
    def grant_duration(self) -> timedelta | None:
        return GRANT_DURATIONS[self.cleaned_data.get("duration") or "once"]

    def require_tools(self) -> bool:
        """For an approval: at least one tool must stay chosen."""
        if not self.cleaned_data.get("tools"):
            self.add_error("tools", "Choose at least one tool to approve, or deny the request.")
            return False
        return True


class BulkDecisionForm(forms.Form):
    """Approve or deny several pending requests: those ticked, or all that match the filters.

    - `ids`: the public ids of the ticked requests (at most BULK_LIMIT).
    - `scope=matching`: every pending request the filters in `connector` select instead.
    - Without `confirm` the view only shows what would be decided; with it, it decides.
    """

    action = forms.ChoiceField(choices=[("approve", "Approve"), ("deny", "Deny")])
    ids = forms.Field(required=False, widget=forms.MultipleHiddenInput)
    scope = forms.ChoiceField(
        choices=[("selected", "Selected"), ("matching", "All matching")], required=False
    )
    connector = forms.SlugField(required=False, max_length=100)
    duration = forms.ChoiceField(choices=DURATION_CHOICES, initial="once", required=False)
    comment = forms.CharField(max_length=2000, required=False)
    confirm = forms.BooleanField(required=False)

    def clean_ids(self) -> list[UUID]:
        raw = self.cleaned_data["ids"] or []
        if len(raw) > BULK_LIMIT:
            raise forms.ValidationError(f"Choose at most {BULK_LIMIT} requests at once.")
        try:
            return list(dict.fromkeys(UUID(value) for value in raw))
        except ValueError as exc:
            raise forms.ValidationError("Some chosen requests are not request ids.") from exc

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if (
            cleaned.get("scope") != "matching"
            and not cleaned.get("ids")
            and "ids" not in self.errors
        ):
            raise forms.ValidationError("Choose at least one request.")
        return cleaned

    @property
    def approve(self) -> bool:
        return self.cleaned_data["action"] == "approve"

    @property
    def grant_duration(self) -> timedelta | None:
        return (
            GRANT_DURATIONS[self.cleaned_data.get("duration") or "once"] if self.approve else None
        )
