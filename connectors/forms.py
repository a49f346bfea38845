"""Forms of the connector page: the switches, a tool's access kind, the credentials."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import URLValidator

from connectors.models import Connector, Tool

SWITCH = {"on": True, "off": False}


class SwitchForm(forms.Form):
    """One enable/disable button: `enabled` is `on` or `off`."""

    enabled = forms.ChoiceField(choices=[(key, key) for key in SWITCH])

    def value(self) -> bool:
        return SWITCH[self.cleaned_data["enabled"]]


class ToolAccessForm(forms.Form):
    """The access kind an admin sets for a tool by hand."""

    access = forms.ChoiceField(
        choices=Tool.Access.choices,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )


class CredentialsForm(forms.Form):
    """Managed, or the company's own OAuth client. The secret is write-only: blank keeps it."""

    mode = forms.ChoiceField(
        label="Credentials",
        choices=Connector.CredentialMode.choices,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    client_id = forms.CharField(
        label="Client ID",
        max_length=500,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )
    client_secret = forms.CharField(
        label="Client secret",
        max_length=2000,
        required=False,
        strip=False,
        # render_value=False: a re-rendered form (after an error) never sends the secret back.
        widget=forms.PasswordInput(
            render_value=False,
            attrs={"class": "form-control", "autocomplete": "new-password"},
        ),
    )
    base_url = forms.URLField(
        label="Base URL (optional)",
        required=False,
        max_length=200,
        assume_scheme="https",
        validators=[URLValidator(schemes=["https", "http"])],
        help_text="Only for self-hosted or regional instances, e.g. https://github.example.com",
        widget=forms.URLInput(attrs={"class": "form-control", "placeholder": "https://"}),
    )

    def __init__(self, *args: Any, connector: Connector, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connector = connector

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("mode") != Connector.CredentialMode.BYO:
            return data
        if not (data.get("client_id") or "").strip():
            self.add_error("client_id", "Enter the client ID of your OAuth app.")
        secret = data.get("client_secret") or ""
        if secret and not secret.strip():
            self.add_error("client_secret", "The client secret cannot be only spaces.")
        elif not secret and not self.connector.client_secret_encrypted:
            self.add_error("client_secret", "Enter the client secret of your OAuth app.")
        return data

    @classmethod
    def initial_for(cls, connector: Connector) -> dict[str, Any]:
        return {
            "mode": connector.credential_mode,
            "client_id": connector.client_id,
            "base_url": connector.base_url,
        }
