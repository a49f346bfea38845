"""What the console's list pages share: admins only, page size and page from the URL, notices."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.http import HttpRequest, HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django_htmx.http import push_url
from django_tables2 import RequestConfig, Table

from agenwork.roles import is_admin

PAGE_SIZES = (25, 50, 100)


def int_param(request: HttpRequest, name: str) -> int | None:
    """The whole number in `?name=`; None when it is missing or not a number."""
    try:
        return int(request.GET.get(name) or "")
    except ValueError:
        return None


def panel_response(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> TemplateResponse:
    """The template's `#panel` partial for htmx; the full page when opened directly."""
    htmx = request.htmx
    partial = htmx and not htmx.history_restore_request and not htmx.boosted
    return TemplateResponse(
        request, template + ("#panel" if partial else ""), context, status=status
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


class AdminListMixin(ForgivingFilterMixin, LoginRequiredMixin):
    """A list page only admins see; use it before SingleTableMixin and FilterView.

    - Anonymous → login; a login that is not an admin → 403 with `only_admins`.
    - `?per_page=` is one of `page_sizes` (else the first); a bad or past-the-end `?page=` shows
      the last page.
    - `notices` tell of filter values the FilterSet refused (they are dropped: the list shows that
      filter's default), and of an unknown `?sort=` when `sorts` is given (then `sort_fallback`
      says what is shown instead).
    - An htmx request aimed at `table_id` gets the template's `#table` partial; the table
      reloading itself (after a save in the panel) keeps the URL the panel has pushed.
    """

    only_admins = "Only admins can see this page."
    table_id = ""
    page_sizes = PAGE_SIZES
    sorts: tuple[str, ...] = ()
    sort_fallback = ""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and not is_admin(request.user):
            raise PermissionDenied(self.only_admins)
        return super().dispatch(request, *args, **kwargs)

    def get_table(self, **kwargs: Any) -> Table:
        table = self.table_class(data=self.get_table_data(), **kwargs)
        RequestConfig(self.request, paginate=False).configure(table)
        table.page_sizes = self.page_sizes
        per_page = int_param(self.request, "per_page")
        per_page = per_page if per_page in self.page_sizes else self.page_sizes[0]
        try:
            table.paginate(page=int_param(self.request, "page") or 1, per_page=per_page)
        except (EmptyPage, PageNotAnInteger):
            table.paginate(page=table.paginator.num_pages, per_page=per_page)
        return table

    def get_notices(self, filterset: Any) -> list[str]:
        """One line per refused filter value, and one for an unknown sort."""
        get = self.request.GET
        notices = list(self.filter_notices)
        sort = get.get("sort", "")
        if self.sorts and sort and sort.lstrip("-") not in self.sorts:
            notices.append(f"Unknown sort “{sort[:40]}”: {self.sort_fallback}.")
        return notices

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["notices"] = self.get_notices(context["filter"])
        return context

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        response = super().render_to_response(context, **kwargs)
        if self.table_id and self.request.htmx.trigger == self.table_id:
            push_url(response, False)
        return response

    def get_template_names(self) -> list[str]:
        htmx = self.request.htmx
        if htmx and not htmx.history_restore_request and htmx.target == self.table_id:
            return [f"{self.template_name}#table"]
        return [self.template_name]


def name_cell(link: SafeString, *, enabled: bool) -> SafeString:
    """A list's name link, with a "Disabled" badge when the row is switched off."""
    if enabled:
        return link
    return format_html('{} <span class="badge text-bg-light border">Disabled</span>', link)
