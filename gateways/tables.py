"""The API keys table and the webhook delivery attempts of one key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from agenwork.lists import ConsoleTable
from agenwork.templatetags.agenwork_tags import when
from gateways.models import ApiKey
from gateways.services import KEY_SCHEME

NEVER = format_html('<span class="text-secondary">{}</span>', "Never")
DASH = format_html('<span class="text-secondary">{}</span>', "—")


def masked_key(prefix: str) -> str:
    """How a stored key is named on screen: `awk_<prefix>_…`."""
    return f"{KEY_SCHEME}_{prefix}_…"


def key_status_badge(api_key: ApiKey) -> SafeString:
    """Active in green, Revoked in red."""
    if api_key.is_active:
        return format_html('<span class="badge key-active">{}</span>', "Active")
    return format_html('<span class="badge key-revoked">{}</span>', "Revoked")


class ApiKeyTable(ConsoleTable):
    """Name, Prefix, Created, Last used, Status, Webhook URL; by name."""

    name = tables.Column(verbose_name="Name", orderable=False)
    prefix = tables.Column(verbose_name="Prefix", orderable=False)
    created_at = tables.Column(verbose_name="Created", orderable=False)
    last_used_at = tables.Column(verbose_name="Last used", orderable=False, default=NEVER)
    status = tables.Column(
        verbose_name="Status", accessor="revoked_at", orderable=False, empty_values=()
    )
    webhook_url = tables.Column(verbose_name="Webhook URL", orderable=False, default=DASH)

    class Meta:
        model = ApiKey
        fields = ()
        template_name = "_console_table.html"
        empty_text = "No API keys yet. Create one for each gateway."
        attrs = {"class": "table table-hover align-middle console-table"}
        row_attrs = {"data-key": lambda record: record.pk}

    def render_name(self, record: ApiKey, value: str) -> SafeString:
        url = reverse("gateways:detail", args=[record.pk])
        return format_html('<a class="fw-semibold" href="{}">{}</a>', url, value)

    def render_prefix(self, value: str) -> SafeString:
        return format_html("<code>{}</code>", masked_key(value))

    def render_created_at(self, value: datetime) -> str:
        return when(value)

    def render_last_used_at(self, value: datetime) -> str:
        return when(value)

    def render_status(self, record: ApiKey) -> SafeString:
        return key_status_badge(record)

    def render_webhook_url(self, value: str) -> SafeString:
        return format_html(
            '<span class="url-cell text-truncate" title="{}">{}</span>', value, value
        )


class WebhookDeliveryTable(ConsoleTable):
    """When, Request, Status, Attempts, Last response, Next attempt; newest first."""

    created_at = tables.Column(verbose_name="When", orderable=False)
    request = tables.Column(verbose_name="Request", accessor="request__public_id", orderable=False)
    status = tables.Column(verbose_name="Status", orderable=False)
    attempts = tables.Column(verbose_name="Attempts", orderable=False)
    last_response = tables.Column(verbose_name="Last response", empty_values=(), orderable=False)
    next_attempt_at = tables.Column(verbose_name="Next attempt", empty_values=(), orderable=False)

    class Meta:
        template_name = "_console_table.html"
        empty_text = "No webhook deliveries for this key yet."
        attrs = {"class": "table align-middle console-table deliveries-table"}
        row_attrs = {"data-delivery": lambda record: record.pk}

    def render_created_at(self, value: datetime) -> str:
        return when(value)

    def render_request(self, value: Any) -> SafeString:
        url = reverse("requests_app:detail", args=[value])
        return format_html('<a href="{}"><code>{}</code></a>', url, str(value)[:8])

    def render_status(self, record: Any) -> SafeString:
        return format_html(
            '<span class="badge delivery-{}">{}</span>', record.status, record.get_status_display()
        )

    def render_last_response(self, record: Any) -> SafeString:
        code = record.last_status_code
        if code is None and not record.last_error:
            return DASH
        return format_html(
            '{}<span class="small text-secondary error-cell text-truncate" title="{}">{}</span>',
            format_html("<code>HTTP {}</code> ", code) if code is not None else "",
            record.last_error,
            record.last_error,
        )

    def render_next_attempt_at(self, record: Any) -> str:
        if record.status == record.Status.DELIVERED:
            delivered = record.delivered_at
            return format_html("Delivered {}", when(delivered)) if delivered else DASH
        if record.status == record.Status.FAILED:
            return format_html('<span class="text-secondary">{}</span>', "No more attempts")
        return when(record.next_attempt_at)
