"""The console's form for a new gateway token."""

from __future__ import annotations

from django import forms

from mcp_gateway.tokens import MAX_EXPIRY_DAYS

DEFAULT_EXPIRY_DAYS = 90


class GatewayTokenCreateForm(forms.Form):
    """A new token for a person: when it expires, in days (blank: never)."""

    expires_in = forms.IntegerField(
        label="Expires in (days)",
        required=False,
        min_value=1,
        max_value=MAX_EXPIRY_DAYS,
        error_messages={
            "invalid": f"Enter a whole number of days from 1 to {MAX_EXPIRY_DAYS}, or leave it "
            "blank for a token that never expires.",
            "min_value": f"Give an expiry of 1 to {MAX_EXPIRY_DAYS} days, or none.",
            "max_value": f"Give an expiry of 1 to {MAX_EXPIRY_DAYS} days, or none.",
        },
        help_text="Blank: the token never expires (until revoked).",
        widget=forms.NumberInput(
            attrs={"class": "form-control", "min": 1, "max": MAX_EXPIRY_DAYS, "step": 1}
        ),
    )
