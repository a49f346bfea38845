"""The Policies table."""

from __future__ import annotations

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from agenwork.lists import ConsoleTable, name_cell, panel_link, row_menu, tool_cell
from agenwork.templatetags.agenwork_tags import connector_label
from policies.models import Policy

SORTS = ("name", "action")
GROUP_NAMES_SHOWN = 2


def action_badge(action: str, label: str) -> str:
    """The action as a coloured badge: Allow green, Step up yellow, Deny red, approval orange."""
    return format_html('<span class="badge action-{}">{}</span>', action, label)


class PolicyTable(ConsoleTable):
    """Name, Connector, Users, Groups, Tools, Action and the row menu; sorted by name or action."""

    name = tables.Column(verbose_name="Name", order_by=("name", "id"))
    connector = tables.Column(verbose_name="Connector", orderable=False)
    users = tables.Column(verbose_name="Users", accessor="user_count", orderable=False)
    groups = tables.Column(verbose_name="Groups", accessor="pk", orderable=False)
    tools = tables.Column(verbose_name="Tools", accessor="pk", orderable=False)
    action = tables.Column(verbose_name="Action", order_by=("action_rank", "name", "id"))
    menu = tables.Column(verbose_name="", accessor="pk", orderable=False, empty_values=())

    class Meta(ConsoleTable.Meta):
        model = Policy
        fields = ()
        order_by = ("name",)
        empty_text = "No policies match these filters."
        attrs = {"class": "table table-hover align-middle console-table policies-table"}
        row_attrs = {"data-row": lambda record: f"policy-{record.pk}"}

    def render_name(self, record: Policy, value: str) -> str:
        link = panel_link(reverse("policies:detail", args=[record.pk]), value, "policy-link")
        return name_cell(link, enabled=record.enabled)

    def render_connector(self, record: Policy) -> str:
        return connector_label(record.connector)

    def render_users(self, record: Policy, value: int) -> str:
        if record.all_users:
            return "All users"
        return f"{value} user{'s' if value != 1 else ''}" if value else "—"

    def render_groups(self, record: Policy) -> str:
        names = [group.name for group in record.groups.all()]
        if not names:
            return "—"
        if len(names) > GROUP_NAMES_SHOWN:
            return format_html('<span title="{}">{} groups</span>', ", ".join(names), len(names))
        return format_html_join(
            " ", '<span class="badge text-bg-light border">{}</span>', ((n,) for n in names)
        )

    def render_tools(self, record: Policy) -> str:
        keys = [tool.key for tool in record.tools.all()]
        if not keys:
            return "All tools"
        return tool_cell(keys[0], keys[1:], prefix=f"{record.connector.slug}_")

    def render_action(self, record: Policy) -> str:
        return action_badge(record.action, record.get_action_display())

    def render_menu(self, record: Policy) -> str:
        return row_menu(
            record.name,
            edit_url=reverse("policies:edit", args=[record.pk]),
            delete_url=reverse("policies:delete", args=[record.pk]),
        )
