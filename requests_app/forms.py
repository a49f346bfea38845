"""The decision form of the review panel."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms

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
