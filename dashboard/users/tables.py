"""The Users and Groups tables."""

from __future__ import annotations

from datetime import datetime

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from agenwork.lists import ConsoleTable, panel_link
from agenwork.templatetags.agenwork_tags import when
from directory.models import Group, Person

STATUS_BADGES = {
    "active": ("Active", "text-bg-success"),
    "locked": ("Locked", "text-bg-danger"),
    "deactivated": ("Deactivated", "text-bg-secondary"),
}


def status_badge(status: str) -> SafeString:
    label, css = STATUS_BADGES[status]
    return format_html('<span class="badge {} person-status">{}</span>', css, label)


class PersonTable(ConsoleTable):
    """User, Email, Status, MFA, Created and View details; sorted by Email, MFA or Created."""

    name = tables.Column(verbose_name="User", orderable=False)
    email = tables.Column(verbose_name="Email", order_by=("email", "id"))
    status = tables.Column(verbose_name="Status", orderable=False, empty_values=())
    mfa = tables.Column(
        verbose_name="MFA", accessor="mfa_enabled", order_by=("mfa_enabled", "email")
    )
    created = tables.Column(
        verbose_name="Created", accessor="created_at", order_by=("created_at", "id")
    )
    details = tables.Column(verbose_name="", accessor="pk", orderable=False)

    class Meta(ConsoleTable.Meta):
        model = Person
        fields = ()
        order_by = ("email",)
        empty_text = "No users match these filters."
        attrs = {"class": "table table-hover align-middle console-table people-table"}
        row_attrs = {"data-row": lambda record: f"person-{record.pk}"}

    def render_name(self, record: Person) -> SafeString:
        url = reverse("users:detail", args=[record.pk])
        return format_html(
            '<span class="avatar" aria-hidden="true">{}</span> {}',
            record.initials,
            panel_link(url, record.name, "person-link"),
        )

    def render_status(self, record: Person) -> SafeString:
        return status_badge(record.display_status)

    def render_mfa(self, value: bool) -> SafeString:
        if value:
            return format_html(
                '<span class="badge text-bg-light border mfa-on">{}</span>', "Enabled"
            )
        return format_html('<span class="text-secondary mfa-off">{}</span>', "Off")

    def render_created(self, value: datetime) -> str:
        return when(value)

    def render_details(self, record: Person) -> SafeString:
        url = reverse("users:detail", args=[record.pk])
        return panel_link(url, "View details", "btn btn-sm btn-light border")


class GroupTable(ConsoleTable):
    """Name, Members, Policies; sort by name or members."""

    name = tables.Column(verbose_name="Name", order_by=("name", "id"))
    members = tables.Column(
        verbose_name="Members", accessor="member_count", order_by=("member_count", "name")
    )
    policies = tables.Column(verbose_name="Policies", accessor="policy_count", orderable=False)

    class Meta(ConsoleTable.Meta):
        model = Group
        fields = ()
        order_by = ("name",)
        empty_text = "No groups match this search."
        attrs = {"class": "table table-hover align-middle console-table groups-table"}
        row_attrs = {"data-row": lambda record: f"group-{record.pk}"}

    def render_name(self, record: Group, value: str) -> SafeString:
        return panel_link(reverse("users:group_detail", args=[record.pk]), value, "group-link")
