"""The two tables of the Activity page: API decisions and admin changes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from agenwork.templatetags.agenwork_tags import when
from audit.models import AuditEntry
from dashboard.filtersets import DECISION_CHOICES, OBJECT_TYPES
from policies.models import DecisionLog

DASH = format_html('<span class="text-secondary">{}</span>', "—")
DECISION_LABELS = dict(DECISION_CHOICES)
OBJECT_LABELS = dict(OBJECT_TYPES)
MISSING = object()
DIFF_LIMIT = 6
VALUE_CHARS = 60
# Objects with a page of their own, linked from the Changes tab: object_type → URL name.
OBJECT_URLS = {"api_key": "gateways:detail"}


class ActivityTable(tables.Table):
    """What both tables share: the Time column (the only sort) and the URL parameters."""

    time = tables.Column(accessor="created_at", verbose_name="Time", order_by=("created_at", "id"))

    class Meta:
        order_by_field = "sort"
        page_field = "page"
        per_page_field = "per_page"
        template_name = "dashboard/_activity_table.html"

    def render_time(self, value: datetime) -> str:
        return when(value)


class DecisionLogTable(ActivityTable):
    """Time, User, Agent, Connector, Tools, Decision, Reason, Key, and the request if any."""

    user = tables.Column(accessor="user_ref", verbose_name="User", orderable=False)
    agent = tables.Column(verbose_name="Agent", orderable=False, default=DASH)
    connector = tables.Column(accessor="connector_slug", verbose_name="Connector", orderable=False)
    tools = tables.Column(verbose_name="Tools", orderable=False, empty_values=())
    decision = tables.Column(verbose_name="Decision", orderable=False)
    reason = tables.Column(accessor="reason_code", verbose_name="Reason", orderable=False)
    key = tables.Column(
        accessor="api_key_name",
        verbose_name="Key",
        orderable=False,
        default=DASH,
        attrs={"td": {"class": "text-nowrap"}},
    )
    review = tables.Column(
        accessor="request_public_id", verbose_name="Request", orderable=False, default=DASH
    )

    class Meta(ActivityTable.Meta):
        model = DecisionLog
        fields = ()
        empty_text = "No decisions match these filters."
        attrs = {"class": "table align-middle console-table activity-table decisions-table"}
        row_attrs = {"data-decision": lambda record: record.pk}

    def render_connector(self, value: str) -> SafeString:
        return format_html("<code>{}</code>", value)

    def render_tools(self, value: Any) -> SafeString:
        tools = value if isinstance(value, list) else []
        if not tools:
            return DASH
        first = str(tools[0])
        extra = format_html(' <span class="badge text-bg-light border">+{}</span>', len(tools) - 1)
        return format_html(
            '<code class="tool-key text-truncate" title="{}">{}</code>{}',
            ", ".join(map(str, tools)),
            first,
            extra if len(tools) > 1 else "",
        )

    def render_decision(self, value: str) -> SafeString:
        label = DECISION_LABELS.get(value, value)
        return format_html('<span class="badge action-{}">{}</span>', value, label)

    def render_reason(self, value: str) -> SafeString:
        return format_html('<code class="reason-code">{}</code>', value)

    def render_review(self, value: Any) -> SafeString:
        url = reverse("requests_app:detail", args=[value])
        return format_html('<a href="{}" title="Review request {}">Review</a>', url, value)


class AuditEntryTable(ActivityTable):
    """Time, Who, Channel, Action, Object, and the fields that changed."""

    who = tables.Column(accessor="actor_name", verbose_name="Who", orderable=False, empty_values=())
    channel = tables.Column(verbose_name="Channel", orderable=False)
    action = tables.Column(verbose_name="Action", orderable=False)
    target = tables.Column(
        accessor="object_repr", verbose_name="Object", orderable=False, empty_values=()
    )
    change = tables.Column(verbose_name="Change", orderable=False, empty_values=())

    class Meta(ActivityTable.Meta):
        model = AuditEntry
        fields = ()
        empty_text = "No changes match these filters."
        attrs = {"class": "table align-middle console-table activity-table changes-table"}
        row_attrs = {"data-change": lambda record: record.pk}

    def render_who(self, value: str) -> SafeString:
        if not value:
            return format_html('<span class="text-secondary">{}</span>', "the system")
        return format_html("{}", value)

    def render_channel(self, value: str) -> SafeString:
        return format_html('<span class="badge text-bg-light border">{}</span>', value)

    def render_action(self, record: AuditEntry) -> str:
        return record.get_action_display()

    def render_target(self, record: AuditEntry) -> SafeString:
        label = OBJECT_LABELS.get(record.object_type, record.object_type)
        name = record.object_repr or record.object_id
        url_name = OBJECT_URLS.get(record.object_type)
        if url_name and record.object_id.isdigit():
            url = reverse(url_name, args=[record.object_id])
            name = format_html('<a href="{}">{}</a>', url, name)
        return format_html('<span class="text-secondary small">{}</span> {}', label, name)

    def render_change(self, record: AuditEntry) -> SafeString:
        return render_diff(record.before, record.after)


def _as_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return value if isinstance(value, dict) else {"value": value}


def changed_fields(before: Any, after: Any) -> list[tuple[str, Any, Any]]:
    """(key, old, new) for each key whose value differs, in order; MISSING where a side lacks it."""
    old, new = _as_dict(before), _as_dict(after)
    keys = dict.fromkeys([*old, *new])
    return [
        (key, old.get(key, MISSING), new.get(key, MISSING))
        for key in keys
        if old.get(key, MISSING) != new.get(key, MISSING)
    ]


def short_value(value: Any) -> str:
    """A JSON value as a person reads it: yes/no, lists joined, nothing shown as "—"."""
    if value is MISSING or value is None:
        text = "—"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, list):
        text = ", ".join(short_value(item) for item in value) or "none"
    elif isinstance(value, dict):
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    else:
        text = str(value) if value != "" else "(empty)"
    return text


def _value_html(tag: str, value: Any) -> SafeString:
    text = short_value(value)
    shown = text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"
    return format_html('<{} title="{}">{}</{}>', tag, text, shown, tag)


def _transition(old: Any, new: Any) -> SafeString:
    if old is MISSING:
        return _value_html("ins", new)
    if new is MISSING:
        return _value_html("del", old)
    return format_html("{} → {}", _value_html("del", old), _value_html("ins", new))


def render_diff(before: Any, after: Any) -> SafeString:
    """The keys that changed as "key: old → new", a few at most; created keys show only "new"."""
    changes = changed_fields(before, after)
    if not changes:
        return format_html('<span class="text-secondary small">{}</span>', "No field changed")
    items = format_html_join(
        "",
        '<li><span class="diff-key">{}</span> {}</li>',
        ((key, _transition(old, new)) for key, old, new in changes[:DIFF_LIMIT]),
    )
    more = len(changes) - DIFF_LIMIT
    tail = format_html('<li class="text-secondary">+{} more</li>', more) if more > 0 else ""
    return format_html('<ul class="diff list-unstyled mb-0">{}{}</ul>', items, tail)
