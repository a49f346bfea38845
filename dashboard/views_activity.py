"""The Activity page: one trail of request history, API decisions and admin changes.

- Filters, page size and the keyset cursor live in the URL; nothing counts the tables.
- The same query string with `format=csv` (or at /activity/export.csv) streams the filtered
  trail as CSV, every row, a batch at a time.
- Bad parameters never fail the page: each is ignored or shown as a notice.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterator
from datetime import datetime

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from agenwork.lists import partial_template
from agenwork.roles import admin_required
from dashboard.activity import Cursor, TrailFilter, trail_iter, trail_page
from dashboard.filtersets import ActivityFilterForm
from dashboard.lines import line_for
from dashboard.tables import ActivityTable

ADMINS_ONLY = "Only admins can open this page."
PAGE_SIZES = (25, 50, 100)
TABLE_TARGET = "activity-table"
# Bookmarks of the former tabs keep working: ?tab=decisions is ?kind=decision.
OLD_TABS = {"decisions": "decision", "changes": "change"}
# OWASP's CSV injection guidance: a cell a spreadsheet would run as a formula starts with one of
# these once its leading whitespace is skipped, also in fullwidth or small forms (NFKC folds
# U+FF1D into "="); a leading tab, carriage return or NUL counts whatever follows.
FORMULA_STARTS = frozenset("=+-@|")
CONTROL_STARTS = ("\t", "\r", "\0")
# A plain number ("-5", "+3.5") is no formula: it is kept as a number, not turned into text.
PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?", re.ASCII)
CSV_HEADER = (
    "time", "kind", "who", "channel", "what", "object_type", "object_id", "object", "change",
    "detail",
)  # fmt: skip


def parse_filters(request: HttpRequest) -> tuple[TrailFilter | None, list[str], ActivityFilterForm]:
    """The filters asked for, or None (with notices) when one of them is not valid."""
    data = request.GET.copy()
    if data.get("tab") in OLD_TABS and not data.get("kind"):
        data["kind"] = OLD_TABS[data["tab"]]
    form = ActivityFilterForm(data)
    if form.is_valid():
        return TrailFilter(**form.cleaned_data), [], form
    notices = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        label = field.label if field is not None else "Filters"
        raw = request.GET.get(name, "")
        typed = f" “{raw[:40]}”" if raw else ""
        notices.append(f"{label}{typed}: {' '.join(errors)} No rows are shown until it is fixed.")
    return None, notices, form


def _per_page(request: HttpRequest, notices: list[str]) -> int:
    raw = request.GET.get("per_page", "")
    # isdecimal() alone accepts other scripts' digits; int() would then fail.
    if raw and not (raw.isascii() and raw.isdecimal() and int(raw) in PAGE_SIZES):
        notices.append(f"Ignored per page “{raw[:20]}”.")
        return PAGE_SIZES[0]
    return int(raw) if raw else PAGE_SIZES[0]


def _cursor(request: HttpRequest, notices: list[str]) -> Cursor | None:
    raw = request.GET.get("after", "")
    cursor = Cursor.decode(raw) if raw else None
    if raw and cursor is None:
        notices.append(f"Ignored page position “{raw[:40]}”: showing the newest first.")
    return cursor


@require_GET
@admin_required(ADMINS_ONLY)
def activity(request: HttpRequest) -> HttpResponse:
    """The trail, newest first, a page at a time; `format=csv` exports it."""
    if request.GET.get("format") == "csv":
        return activity_csv(request)
    wanted, notices, form = parse_filters(request)
    per_page = _per_page(request, notices)
    cursor = _cursor(request, notices)
    entries, more = trail_page(wanted, cursor, per_page) if wanted else ([], False)
    table = ActivityTable([line_for(entry) for entry in entries])
    table.request = request
    table.page_sizes, table.per_page = PAGE_SIZES, per_page
    table.next_cursor = entries[-1].cursor.encode() if more else ""
    table.at_start = cursor is None
    context = {"table": table, "form": form, "notices": notices, "shown": len(entries)}
    template = partial_template(request, "dashboard/activity.html", "table", target=TABLE_TARGET)
    return render(request, template, context)


class _Echo:
    """A file-like object whose write returns the line, for csv.writer in a stream."""

    def write(self, value: str) -> str:
        return value


def spreadsheet_safe(value: str) -> str:
    """The value, prefixed with ' when a spreadsheet would run it as a formula."""
    if value.startswith(CONTROL_STARTS):
        return "'" + value
    stripped = value.strip()
    first = unicodedata.normalize("NFKC", stripped[:1])[:1]
    if first in FORMULA_STARTS and not PLAIN_NUMBER.fullmatch(stripped):
        return "'" + value
    return value


def _csv_rows(wanted: TrailFilter) -> Iterator[list[str]]:
    yield list(CSV_HEADER)
    for entry in trail_iter(wanted):
        line = line_for(entry)
        cells = [
            timezone.localtime(line.at).isoformat(),
            line.kind,
            line.who,
            line.channel,
            line.action,
            line.object_type,
            line.object_id,
            line.object_label,
            line.change_text,
            line.detail,
        ]
        yield [cells[0], *map(spreadsheet_safe, cells[1:])]


@require_GET
@admin_required(ADMINS_ONLY)
def activity_csv(request: HttpRequest) -> HttpResponse:
    """The filtered trail as CSV, streamed a batch at a time (no row limit, bounded memory)."""
    wanted, notices, _ = parse_filters(request)
    if wanted is None:
        return HttpResponse("\n".join(notices) + "\n", status=400, content_type="text/plain")
    writer = csv.writer(_Echo())
    stamp = datetime.now().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in _csv_rows(wanted)), content_type="text/csv"
    )
    response["Content-Disposition"] = f'attachment; filename="agenwork-activity-{stamp}.csv"'
    return response
