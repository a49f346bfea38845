"""Template filters shared by every page: dates shown absolute and relative."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.templatetags.static import static
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()

_UNITS = (
    ("year", 365 * 24 * 3600),
    ("month", 30 * 24 * 3600),
    ("day", 24 * 3600),
    ("hour", 3600),
    ("minute", 60),
)


@register.filter
def relative(value: datetime | None, now: datetime | None = None) -> str:
    """ "3 days ago", "in 2 hours", "just now": the largest unit only, as people say it."""
    if value is None:
        return ""
    now = now or timezone.now()
    seconds = int((now - value).total_seconds())
    past = seconds >= 0
    seconds = abs(seconds)
    for unit, size in _UNITS:
        count = seconds // size
        if count:
            label = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"{label} ago" if past else f"in {label}"
    return "just now"


@register.filter
def absolute(value: datetime | None) -> str:
    """ "05 March 2026" in the console's time zone."""
    if value is None:
        return ""
    return timezone.localtime(value).strftime("%d %B %Y")


@register.filter
def when(value: datetime | None) -> str:
    """A <time> element: "05 March 2026, 3 days ago", with the exact time on hover."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    return format_html(
        '<time datetime="{}" title="{}">{}, {}</time>',
        local.isoformat(),
        local.strftime("%d %B %Y %H:%M %Z"),
        absolute(value),
        relative(value),
    )


@register.filter
def connector_label(connector) -> str:
    """The connector's icon and name, as every list shows it."""
    return format_html(
        '<span class="connector-name"><img src="{}" alt="" width="20" height="20" '
        'class="connector-icon"> {}</span>',
        static(f"icons/connectors/{connector.icon_name}.svg"),
        connector.name,
    )


@register.filter
def pretty_json(value: object) -> str:
    """Arguments as indented JSON for a <pre> block."""
    import json

    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def get_item(mapping: object, key: str) -> object:
    """mapping[key] in a template, for keys that are not identifiers."""
    return mapping.get(key, "") if isinstance(mapping, dict) else ""
