"""Template filters shared by every page: dates shown absolute and relative."""

from __future__ import annotations

from datetime import datetime
from html import escape

from django import template
from django.templatetags.static import static
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from agenwork import pagination

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


# The two helpers below build their HTML with the standard library's escape (which Django's own
# escape calls) rather than format_html: list pages call them for every row.


@register.filter
def when(value: datetime | None, now: datetime | None = None) -> SafeString | str:
    """A <time> element: "05 March 2026, 3 days ago", with the exact time on hover.

    - The two halves are spans that never break inside, so a narrow column wraps between them,
      a table can stack them and a phone can hide the absolute half.
    """
    if value is None:
        return ""
    local = timezone.localtime(value)
    return mark_safe(  # noqa: S308 - dates we format, the zone name escaped
        f'<time datetime="{local.isoformat()}" '
        f'title="{escape(local.strftime("%d %B %Y %H:%M %Z"))}">'
        f'<span class="when-abs">{local.strftime("%d %B %Y")}</span><span class="when-sep">,'
        f'</span> <span class="when-rel">{relative(value, now)}</span></time>'
    )


@register.filter
def connector_label(connector) -> SafeString:
    """The connector's icon and name, as every list shows it."""
    icon = escape(static(f"icons/connectors/{connector.icon_name}.svg"))
    return mark_safe(  # noqa: S308 - both values escaped
        f'<span class="connector-name"><img src="{icon}" alt="" width="20" height="20" '
        f'class="connector-icon"> <span class="connector-text">{escape(connector.name)}</span>'
        "</span>"
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


@register.simple_tag(takes_context=True)
def table_pager(context: template.Context, table: object):
    """The pager under a console table (agenwork.pagination.table_pager), for `_pagination.html`."""
    return pagination.table_pager(table, context["request"].GET)
