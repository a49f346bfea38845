"""The Approval flows table."""

from __future__ import annotations

from datetime import datetime

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from agenwork.lists import ConsoleTable, name_cell, panel_link, row_menu
from agenwork.templatetags.agenwork_tags import when
from approval_flows.models import ApprovalFlow

SORTS = ("name", "modified")


def channel_badges(flow: ApprovalFlow) -> str:
    """Email / SMS badges."""
    on = [(key, label) for key, label, used in _channels(flow) if used]
    return format_html_join(" ", '<span class="badge channel-{}">{}</span>', on)


def _channels(flow: ApprovalFlow) -> tuple[tuple[str, str, bool], ...]:
    return (("email", "Email", flow.channel_email), ("sms", "SMS", flow.channel_sms))


class ApprovalFlowTable(ConsoleTable):
    """Flow Name, Description, Type, Used channels, Last modified date and the row menu."""

    name = tables.Column(verbose_name="Flow Name", order_by=("name", "id"))
    description = tables.Column(verbose_name="Description", orderable=False, default="—")
    type = tables.Column(verbose_name="Type", accessor="pk", orderable=False)
    channels = tables.Column(verbose_name="Used channels", accessor="pk", orderable=False)
    modified = tables.Column(
        verbose_name="Last modified date", accessor="updated_at", order_by=("updated_at", "id")
    )
    menu = tables.Column(verbose_name="", accessor="pk", orderable=False, empty_values=())

    class Meta(ConsoleTable.Meta):
        model = ApprovalFlow
        fields = ()
        order_by = ("name",)
        empty_text = "No approval flows match these filters."
        attrs = {"class": "table table-hover align-middle console-table flows-table"}
        row_attrs = {"data-row": lambda record: f"flow-{record.pk}"}

    def render_name(self, record: ApprovalFlow, value: str) -> str:
        link = panel_link(reverse("approval_flows:detail", args=[record.pk]), value, "flow-link")
        return name_cell(link, enabled=record.enabled)

    def render_description(self, value: str) -> str:
        return format_html(
            '<span class="description-cell text-truncate" title="{}">{}</span>', value, value
        )

    def render_type(self) -> str:
        return format_html(
            '<span class="badge text-bg-light border" title="{}">Global</span>',
            "Any Request approval policy may use it",
        )

    def render_channels(self, record: ApprovalFlow) -> str:
        return channel_badges(record)

    def render_modified(self, value: datetime) -> str:
        return when(value)

    def render_menu(self, record: ApprovalFlow) -> str:
        return row_menu(
            record.name,
            edit_url=reverse("approval_flows:edit", args=[record.pk]),
            delete_url=reverse("approval_flows:delete", args=[record.pk]),
        )
