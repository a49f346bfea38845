"""The Connectors table."""

from __future__ import annotations

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from agenwork.lists import ConsoleTable
from agenwork.templatetags.agenwork_tags import connector_label
from connectors.models import Connector


def status_badge(connector: Connector) -> str:
    """Connected green, Disconnected grey, Error red."""
    return format_html(
        '<span class="badge status-{}">{}</span>', connector.status, connector.get_status_display()
    )


class ConnectorTable(ConsoleTable):
    """Connector (icon and name), Status, Credentials, Tools, Enabled; sorted by name or status."""

    name = tables.Column(verbose_name="Connector", order_by=("name", "id"))
    status = tables.Column(verbose_name="Status", order_by=("status_rank", "name", "id"))
    credential_mode = tables.Column(verbose_name="Credentials", orderable=False)
    tool_count = tables.Column(verbose_name="Tools", orderable=False)
    enabled = tables.Column(verbose_name="Enabled", orderable=False)

    class Meta(ConsoleTable.Meta):
        model = Connector
        fields = ()
        order_by = ("name",)
        empty_text = "No connectors match these filters."
        attrs = {"class": "table table-hover align-middle console-table connectors-table"}
        row_attrs = {"data-row": lambda record: f"connector-{record.slug}"}

    def render_name(self, record: Connector) -> str:
        return format_html(
            '<a class="connector-link" href="{}" hx-boost="false">{}</a> '
            '<code class="small text-secondary">{}</code>',
            reverse("connectors:detail", args=[record.slug]),
            connector_label(record),
            record.slug,
        )

    def render_status(self, record: Connector) -> str:
        return status_badge(record)

    def render_credential_mode(self, record: Connector) -> str:
        return record.get_credential_mode_display()

    def render_tool_count(self, value: int) -> str:
        return f"{value} tool{'s' if value != 1 else ''}"

    def render_enabled(self, value: bool) -> str:
        if value:
            return mark_safe('<span class="badge enabled-on">Enabled</span>')
        return mark_safe('<span class="badge enabled-off">Disabled</span>')
