"""What the console's list pages share: page size and page from the URL, notices, partials."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import EmptyPage, Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django_htmx.http import push_url
from django_tables2 import LazyPaginator, Table

from agenwork.roles import is_admin

PAGE_SIZES = (25, 50, 100)
MAX_PAGE = 10**9


def int_param(request: HttpRequest, name: str) -> int | None:
    """The whole number in `?name=`; None when it is missing or not a number."""
    try:
        return int(request.GET.get(name) or "")
    except ValueError:
        return None


def swaps_part(request: HttpRequest, *, target: str = "") -> bool:
    """Whether htmx asked for part of a page to swap in, rather than a whole page.

    - With `target`, only a request aimed at that element (by id) does: a table's own links are
      boosted, so whether the request is boosted does not matter then.
    - Without it, any htmx request does but a boosted one (a page the browser navigates to).
    - A history restore (the back button once htmx's cache is gone) wants the whole page.
    """
    htmx = request.htmx
    if not htmx or htmx.history_restore_request:
        return False
    return htmx.target == target if target else not htmx.boosted


def partial_template(request: HttpRequest, template: str, partial: str, *, target: str = "") -> str:
    """`template#partial` when htmx swaps that part in (`swaps_part`); else the whole template."""
    return f"{template}#{partial}" if swaps_part(request, target=target) else template


def panel_response(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> TemplateResponse:
    """The template's `#panel` partial for htmx; the full page when opened directly."""
    return TemplateResponse(
        request, partial_template(request, template, "panel"), context, status=status
    )


def panel_link(url: str, text: object, css: str = "") -> SafeString:
    """A link that opens in the side panel with htmx, and as a page without JavaScript."""
    return format_html(
        '<a class="{}" href="{}" hx-get="{}" hx-target="#panel" hx-swap="innerHTML" '
        'hx-push-url="true">{}</a>',
        css,
        url,
        url,
        text,
    )


class ConsoleTable(Table):
    """A list page's table: `?sort=`, `?page=`, `?per_page=`, drawn by `_console_table.html`.

    - A subclass's Meta inherits these: `class Meta(ConsoleTable.Meta)`.
    - Every cell carries its column's name in `data-label`: on a phone the rows stack and each
      value is labelled (static/css/app.css).
    """

    class Meta:
        order_by_field = "sort"
        page_field = "page"
        per_page_field = "per_page"
        template_name = "_console_table.html"
        attrs = {"class": "table table-hover align-middle console-table"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for bound in self.columns:
            attrs = dict(bound.column.attrs)
            attrs["td"] = {"data-label": str(bound.header), **attrs.get("td", {})}
            bound.column.attrs = attrs


def refused_filter_notices(filterset: Any, query: QueryDict) -> tuple[Any, list[str]]:
    """The filterset without the values it refused, and one notice per refused value.

    A bad value in the URL (`?status=zzz`) is dropped, so the list shows what that filter shows by
    default, and the notice says so, rather than an empty list that looks like "nothing matches".
    """
    if filterset.is_valid():
        return filterset, []
    refused = list(filterset.form.errors)
    data = query.copy()
    for name in refused:
        data.pop(name, None)
    kept = type(filterset)(data, queryset=filterset.queryset, request=filterset.request)
    notices = []
    for name in refused:
        shown = _shown_value(kept.form[name]) if name in kept.form.fields else "everything"
        label = kept.form.fields[name].label if name in kept.form.fields else name
        notices.append(
            f"Unknown {str(label or name).lower()} “{query.get(name, '')[:40]}”: showing {shown}."
        )
    return kept, notices


def _shown_value(field: Any) -> str:
    """What a choice filter shows once its value was dropped: its default's label ("All ...")."""
    value = field.value()
    for choice_value, label in getattr(field.field, "choices", ()):
        if str(choice_value) == str(value or ""):
            return str(label)
    return "everything"


class ForgivingFilterMixin:
    """A FilterView whose refused filter values are dropped with a notice (`filter_notices`)."""

    filter_notices: list[str]

    def get_filterset(self, filterset_class: Any) -> Any:
        filterset = super().get_filterset(filterset_class)
        filterset, self.filter_notices = refused_filter_notices(filterset, self.request.GET)
        return filterset


def paginate_table(
    table: Table,
    request: HttpRequest,
    *,
    sizes: Sequence[int],
    paginator_class: type[Paginator] = Paginator,
) -> list[str]:
    """Page the table from `?page=` and `?per_page=`; one notice per value it ignored.

    - `?per_page=` is one of `sizes` (else the first); with one size it is not read at all.
    - A page that is not a whole number from 1 shows the first page; a page past the end shows
      the last one, or the first when the paginator never counts (it cannot know the last).
    """
    notices = []
    per_page = sizes[0]
    raw_size = request.GET.get("per_page", "")
    if len(sizes) > 1 and raw_size:
        if int_param(request, "per_page") in sizes:
            per_page = int(raw_size)
        else:
            notices.append(f"Ignored per page “{raw_size[:20]}”.")
    raw_page = request.GET.get("page", "")
    number = int_param(request, "page") or 0
    if raw_page and number < 1:
        notices.append(f"Ignored page “{raw_page[:20]}”.")
    # Any page past MAX_PAGE is past the end, and its OFFSET would overflow PostgreSQL's bigint.
    page = min(max(number, 1), MAX_PAGE)
    try:
        table.paginate(paginator_class=paginator_class, per_page=per_page, page=page)
    except EmptyPage:
        notices.append(f"Page {number} is past the end of this list.")
        lazy = isinstance(table.paginator, LazyPaginator)
        last = 1 if lazy else table.paginator.num_pages
        table.paginate(paginator_class=paginator_class, per_page=per_page, page=last)
    return notices


class ConsoleListMixin(ForgivingFilterMixin, LoginRequiredMixin):
    """A list page of the console; use it before SingleTableMixin and FilterView.

    - Anonymous → login. Who else may see the list is the view's business (AdminListMixin).
    - `?per_page=` and `?page=` as `paginate_table` reads them, with `page_sizes` and
      `paginator_class`; the table carries `page_sizes` for its pager.
    - `notices` tell of filter values the FilterSet refused (they are dropped: the list shows that
      filter's default), of ignored paging, and of an unknown `?sort=` when `sorts` is given (then
      `sort_fallback` says what is shown instead: the table's own default order).
    - An htmx request aimed at `table_id` gets the template's `#table` partial; the table
      reloading itself (after a save in the panel) keeps the URL the panel has pushed.
    """

    table_id = ""
    page_sizes: Sequence[int] = PAGE_SIZES
    paginator_class: type[Paginator] = Paginator
    sorts: tuple[str, ...] = ()
    sort_fallback = ""

    def get_table(self, **kwargs: Any) -> Table:
        # Not RequestConfig: a refused sort would leave the table without its default order.
        table = self.table_class(data=self.get_table_data(), **kwargs)
        table.request = self.request
        self.list_notices: list[str] = []
        sort = self._sort()
        if sort:
            table.order_by = sort
        # render_table renders with the table alone in its context, so the table carries them.
        table.page_sizes = self.page_sizes
        self.list_notices += paginate_table(
            table, self.request, sizes=self.page_sizes, paginator_class=self.paginator_class
        )
        return table

    def _sort(self) -> str:
        """`?sort=`, or "" (the table's default order) when it is not one of `sorts`."""
        sort = self.request.GET.get("sort", "")
        if self.sorts and sort and sort.lstrip("-") not in self.sorts:
            self.list_notices.append(f"Unknown sort “{sort[:40]}”: {self.sort_fallback}.")
            return ""
        return sort

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["notices"] = self.filter_notices + self.list_notices
        return context

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        response = super().render_to_response(context, **kwargs)
        if self.table_id and self.request.htmx.trigger == self.table_id:
            push_url(response, False)
        return response

    def get_template_names(self) -> list[str]:
        if not self.table_id:
            return [self.template_name]
        return [partial_template(self.request, self.template_name, "table", target=self.table_id)]


class AdminListMixin(ConsoleListMixin):
    """A console list only admins see: a login that is not an admin → 403 with `only_admins`."""

    only_admins = "Only admins can see this page."

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and not is_admin(request.user):
            raise PermissionDenied(self.only_admins)
        return super().dispatch(request, *args, **kwargs)


def row_menu(name: str, *, edit_url: str, delete_url: str) -> SafeString:
    """A row's ⋯ menu: Edit and Delete, each opening in the side panel."""
    return format_html(
        '<details class="dropdown row-menu">'
        '<summary class="btn btn-sm btn-light border" aria-label="Actions for {}">⋯</summary>'
        '<div class="dropdown-menu dropdown-menu-end show" data-bs-popper="static">{}{}</div>'
        "</details>",
        name,
        panel_link(edit_url, "Edit", "dropdown-item"),
        panel_link(delete_url, "Delete", "dropdown-item text-danger"),
    )


def tool_cell(first_key: str, other_keys: Sequence[str], *, prefix: str = "") -> SafeString:
    """A list's Tools cell: the first tool's key and a "+N" badge naming the others on hover.

    - The connector's `prefix` of the key (`google-calendar_`) is its own span, which the
      Requests table's stylesheet cuts first in a narrow column: the verb is what differs.
    - Plain string building: the Requests page calls it once a row in its hot loop
      (`AccessRequestTable.rows_html`, bench/bench_requests_page.py).
    """
    if prefix and first_key.startswith(prefix) and len(first_key) > len(prefix):
        verb = escape(first_key[len(prefix) :])
        shown = f'<span class="tool-prefix">{escape(prefix)}</span><span>{verb}</span>'
    else:
        shown = escape(first_key)
    badge = ""
    if other_keys:
        badge = (
            f' <span class="badge text-bg-light border tools-more" '
            f'title="{escape(", ".join(other_keys))}">+{len(other_keys)}</span>'
        )
    code = f'<code class="tool-key" title="{escape(first_key)}">{shown}</code>'
    # SafeString itself, not mark_safe: a third of the cell's time went to mark_safe's checks.
    return SafeString(f'<span class="tools-cell">{code}{badge}</span>')  # every value escaped


def name_cell(link: SafeString, *, enabled: bool) -> SafeString:
    """A list's name link, with a "Disabled" badge when the row is switched off."""
    if enabled:
        return link
    return format_html('{} <span class="badge text-bg-light border">Disabled</span>', link)
