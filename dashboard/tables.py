"""The Activity table: one row per trail line, whatever its source."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from agenwork.lists import ConsoleTable
from agenwork.templatetags.agenwork_tags import when
from dashboard.lines import MISSING, Line, changed_fields, short_value

DASH = format_html('<span class="text-secondary">{}</span>', "—")
DIFF_LIMIT = 6
VALUE_CHARS = 60

__all__ = ["MISSING", "ActivityTable", "changed_fields", "render_diff"]


class ActivityTable(ConsoleTable):
    """Time, Kind, Who, Channel, What, Object, Change; newest first, never re-sorted."""

    time = tables.Column(accessor="at", verbose_name="Time", orderable=False)
    kind = tables.Column(verbose_name="Kind", orderable=False)
    who = tables.Column(verbose_name="Who", orderable=False, empty_values=())
    channel = tables.Column(verbose_name="Channel", orderable=False)
    action = tables.Column(verbose_name="What", orderable=False)
    target = tables.Column(verbose_name="Object", orderable=False, empty_values=())
    change = tables.Column(verbose_name="Change", orderable=False, empty_values=())

    class Meta:
        template_name = "_console_table.html"
        empty_text = "Nothing matches these filters."
        attrs = {"class": "table align-middle console-table activity-table"}
        row_attrs = {"data-kind": lambda record: record.kind, "data-pk": lambda record: record.pk}

    def render_time(self, value: Any) -> str:
        return when(value)

    def render_kind(self, record: Line) -> SafeString:
        return format_html(
            '<span class="badge kind-{} text-bg-light border">{}</span>',
            record.kind,
            record.kind_label,
        )

    def render_who(self, value: str) -> SafeString:
        if not value:
            return format_html('<span class="text-secondary">{}</span>', "the system")
        return format_html("{}", value)

    def render_channel(self, value: str) -> SafeString:
        return format_html('<span class="badge text-bg-light border">{}</span>', value)

    def render_action(self, record: Line) -> SafeString:
        if record.decision:
            return format_html(
                '<span class="badge action-{}">{}</span>', record.decision, record.action
            )
        return format_html("{}", record.action)

    def render_target(self, record: Line) -> SafeString:
        name = record.object_label
        if record.object_url:
            name = format_html('<a href="{}">{}</a>', record.object_url, name)
        if record.object_label.casefold() == record.object_type_label.casefold():
            # An object named after its kind (the connector catalog): said once.
            return format_html("{}", name)
        return format_html(
            '<span class="text-secondary small">{}</span> {}', record.object_type_label, name
        )

    def render_change(self, record: Line) -> SafeString:
        diff = render_diff_items(record.changes) if record.changes else ""
        detail = format_html('<div class="small text-secondary">{}</div>', record.detail)
        if not diff and not record.detail:
            return DASH
        return format_html("{}{}", diff, detail if record.detail else "")


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


def render_diff_items(changes: list[tuple[str, Any, Any]]) -> SafeString:
    """The keys that changed as "key: old → new", a few at most; created keys show only "new"."""
    items = format_html_join(
        "",
        '<li><span class="diff-key">{}</span> {}</li>',
        ((key, _transition(old, new)) for key, old, new in changes[:DIFF_LIMIT]),
    )
    more = len(changes) - DIFF_LIMIT
    tail = format_html('<li class="text-secondary">+{} more</li>', more) if more > 0 else ""
    return format_html('<ul class="diff list-unstyled mb-0">{}{}</ul>', items, tail)


def render_diff(before: Any, after: Any) -> SafeString:
    """An audit entry's before → after, or "No field changed"."""
    changes = changed_fields(before, after)
    if not changes:
        return format_html('<span class="text-secondary small">{}</span>', "No field changed")
    return render_diff_items(changes)
