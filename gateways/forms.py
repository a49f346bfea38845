"""Forms of the API keys pages; the services do the real validation and report it field by field."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

URL_HELP = "Where agenwork POSTs each resolution, signed. Leave empty for no webhook."


def _url_widget() -> forms.URLInput:
    return forms.URLInput(
        attrs={"class": "form-control", "placeholder": "https://gateway.example.com/agenwork"}
    )


class ServiceErrorsMixin:
    """Moves a service's ValidationError onto the form's fields."""

    def add_service_error(self, exc: ValidationError) -> None:
        """Field errors go to their field when the form has it, the rest to the whole form."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for field, errors in exc.error_dict.items():
            self.add_error(field if field in self.fields else None, errors)


def _url_field() -> forms.CharField:
    # A CharField, not a URLField: the service checks the scheme, and no scheme is guessed.
    return forms.CharField(
        label="Webhook URL",
        max_length=500,
        required=False,
        widget=_url_widget(),
        help_text=URL_HELP,
    )


class ApiKeyCreateForm(ServiceErrorsMixin, forms.Form):
    """A key's name and, optionally, its webhook URL."""

    name = forms.CharField(
        max_length=100,
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
        help_text="Unique; usually the gateway's host, e.g. “gateway-prod”.",
    )
    webhook_url = _url_field()


class WebhookForm(ServiceErrorsMixin, forms.Form):
    """The key's webhook URL: a new one gets a new signing secret; empty turns webhooks off."""

    webhook_url = _url_field()
