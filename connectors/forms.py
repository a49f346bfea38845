"""Forms of the connector page: the switches, a tool's access kind, the credentials."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import URLValidator

from connectors.models import Connector, Tool
from connectors.services import is_header_line

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


class HttpUrlField(forms.URLField):
    """A URL field that takes http and https only (Django's also takes ftp and ftps)."""

    default_validators = [URLValidator(schemes=["https", "http"])]


class UpstreamForm(forms.Form):
    """A connector's upstream MCP server over Streamable HTTP: its URL and Authorization header.

    - The header is write-only: blank keeps the stored one, `clear_auth_header` removes it.
    - There is no field for a command: those are ops' alone (MCP_UPSTREAMS), never a form's.
    """

    url = HttpUrlField(
        label="Server URL",
        required=False,
        max_length=Connector._meta.get_field("upstream_url").max_length,
        assume_scheme="https",
        error_messages={
            "invalid": "Enter an http:// or https:// URL, e.g. https://mcp.example.com/mcp"
        },
        help_text="Its Streamable HTTP endpoint. Blank: no upstream server.",
        widget=forms.URLInput(attrs={"class": "form-control", "placeholder": "https://"}),
    )
    auth_header = forms.CharField(
        label="Authorization header (optional)",
        max_length=4000,
        required=False,
        strip=False,
        # render_value=False: a re-rendered form (after an error) never sends the header back.
        widget=forms.PasswordInput(
            render_value=False,
            attrs={
                "class": "form-control",
                "autocomplete": "new-password",
                "placeholder": "Bearer …",
            },
        ),
    )
    clear_auth_header = forms.BooleanField(
        label="Clear the stored header",
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        header = data.get("auth_header") or ""
        if header and not is_header_line(header):
            self.add_error("auth_header", "The header is one line of text, e.g. Bearer <token>.")
        elif header and data.get("clear_auth_header"):
            self.add_error(
                "clear_auth_header", "Either type a new header or clear the stored one, not both."
            )
        if header and not data.get("url") and "url" not in self.errors:
            self.add_error("url", "A header is sent to a server: enter the server's URL too.")
        return data

    @classmethod
    def initial_for(cls, connector: Connector) -> dict[str, Any]:
        return {"url": connector.upstream_url}
