"""The Requests table."""

from __future__ import annotations

from html import escape
from uuid import UUID

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from agenwork.lists import ConsoleTable, tool_cell
from agenwork.templatetags.agenwork_tags import connector_label, when
from requests_app.models import AccessRequest

SORT_ALIASES = ("name", "identifier", "connector", "requested")
_ANY_ID = UUID(int=0)  # reversed once per page; each row's id goes in its place
SELECT_ALL = mark_safe(
    '<input class="form-check-input" type="checkbox" data-select-all '
    'aria-label="Select every request on this page">'
)


def _column(accessor: str, name: str, css: str, **kwargs) -> tables.Column:
    """A column whose header cell carries the class that sets its width (static/css/app.css)."""
    return tables.Column(
        accessor=accessor, verbose_name=name, attrs={"th": {"class": css}}, **kwargs
    )


class AccessRequestTable(ConsoleTable):
    """Name, Identifier, Connector, Tools, Requested, Note; every sort is an index scan.

    - `selectable`: a checkbox leads each row, for decisions on several requests at once.
    - `show_status`: a Status column (badge and who decided), when the list is not only pending.
    """

    select = _column("public_id", SELECT_ALL, "c-select", orderable=False)
    name = _column("requester_name", "Name", "c-name", order_by=("requester_name", "id"))
    identifier = _column(
        "requester_identifier", "Identifier", "c-ident", order_by=("requester_identifier", "id")
    )
    connector = _column(
        "connector_name", "Connector", "c-connector", order_by=("connector_name", "id")
    )
    tools = _column("first_tool_key", "Tools", "c-tools", orderable=False)
    requested = _column("requested_at", "Requested", "c-requested", order_by=("requested_at", "id"))
    status = _column("status", "Status", "c-status", orderable=False)
    note = _column("note", "Note", "c-note", orderable=False, default="")

    class Meta(ConsoleTable.Meta):
        model = AccessRequest
        fields = ()
        order_by = ("-requested",)
        template_name = "requests_app/_table.html"
        empty_text = "No requests match these filters."
        attrs = {"class": "table table-hover align-middle console-table requests-table"}

    def __init__(self, *args, selectable: bool = False, show_status: bool = False, **kwargs):
        exclude = [
            name for name, shown in (("select", selectable), ("status", show_status)) if not shown
        ]
        super().__init__(*args, exclude=exclude, **kwargs)
        self.selectable = selectable
        self.show_status = show_status
        if show_status:
            self.attrs = {**self.attrs, "class": f"{self.attrs['class']} with-status"}

    @cached_property
    def rows_html(self) -> SafeString:
        """The page's rows in one pass of plain string building.

        django-tables2's per-cell machinery cost about 1 ms a row, and format_html per cell
        another 0.25 ms: this is the page's hot loop (bench/bench_requests_page.py).
        """
        records = [row.record for row in self.page.object_list] if self.page else []
        if not records:
            return format_html(
                '<tr><td colspan="{}">{}</td></tr>', len(self.columns), self.empty_text
            )
        link_head, link_tail = reverse("requests_app:detail", args=[_ANY_ID]).split(str(_ANY_ID))
        now = timezone.now()
        labels: dict[int, str] = {}
        rows = []
        for record in records:
            label = labels.get(record.connector_id)
            if label is None:
                label = labels[record.connector_id] = connector_label(record.connector)
            url = f"{link_head}{record.public_id}{link_tail}"
            name = escape(record.requester_name)
            ident = escape(record.requester_identifier)
            note = escape(record.note or "")
            select = (
                f'<td class="c-select"><input class="form-check-input" type="checkbox" '
                f'name="ids" value="{record.public_id}" form="bulk-form" '
                f'aria-label="Select the request of {name}"></td>'
                if self.selectable
                else ""
            )
            tools = tool_cell(
                record.first_tool_key, record.other_tool_keys, prefix=f"{record.connector.slug}_"
            )
            status = (
                f'<td class="c-status">{self._status_cell(record)}</td>' if self.show_status else ""
            )
            rows.append(
                f'<tr data-request="{record.public_id}">{select}<td class="c-name">'
                f'<a class="stretched-link request-link" href="{url}" hx-get="{url}" '
                f'hx-target="#panel" hx-swap="innerHTML" hx-push-url="true" title="{name}">'
                f"{name}</a></td>"
                f'<td class="c-ident" title="{ident}">{ident}</td>'
                f'<td class="c-connector">{label}</td>'
                f'<td class="c-tools">{tools}</td>'
                f'<td class="c-requested">{when(record.requested_at, now)}</td>{status}'
                f'<td class="c-note" title="{note}">{note}</td></tr>'
            )
        return mark_safe("".join(rows))  # noqa: S308 - every value above is escaped

    @staticmethod
    def _status_cell(record: AccessRequest) -> str:
        """A badge of the status and, once decided, who decided and through what."""
        badge = (
            f'<span class="badge request-status status-{record.status}">'
            f"{escape(record.get_status_display())}</span>"
        )
        if record.is_pending:
            return badge
        who = escape(record.decided_by_name or "the system")
        via = f" · {escape(record.get_decided_via_display())}" if record.decided_via else ""
        return f'{badge}<div class="decided-by" title="by {who}{via}">by {who}{via}</div>'
