"""Pagination for large tables: no COUNT over the table, and cheap deep pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.paginator import EmptyPage, Page
from django.db.models import QuerySet
from django.http import QueryDict
from django_tables2 import LazyPaginator
from django_tables2.rows import BoundRows

COUNT_CAP = 1000


class LazyPage(Page):
    """A page that knows its row numbers without counting the whole list."""

    def start_index(self) -> int:
        return (self.number - 1) * self.paginator.per_page + 1 if len(self) else 0

    def end_index(self) -> int:
        return (self.number - 1) * self.paginator.per_page + len(self)


class DeferredJoinPaginator(LazyPaginator):
    """Lazy pages whose rows are found by primary key first, then fetched by key.

    - The key query reads only the sort index (an index-only scan, even at a deep OFFSET).
    - The page's rows, with their joins, are then read for those keys alone.
    - Like LazyPaginator, it knows only whether a next page exists: it never counts.
    """

    def page(self, number: int | str | None) -> LazyPage:
        number = self.validate_number(number or 1)
        rows: BoundRows = self.object_list
        queryset: QuerySet = rows.data.data
        bottom = (number - 1) * self.per_page
        keys = list(queryset.values_list("pk", flat=True)[bottom : bottom + self.per_page + 1])
        if len(keys) > self.per_page:
            self._num_pages = number + 1
            keys = keys[: self.per_page]
        elif number != 1 and not keys:
            raise EmptyPage(f"Page {number} is past the end of the list.")
        else:
            self._num_pages = self._final_num_pages = number
        by_key = {record.pk: record for record in queryset.order_by().filter(pk__in=keys)}
        records = [by_key[key] for key in keys if key in by_key]
        return LazyPage(BoundRows(records, table=rows.table), number, self)


def capped_count(queryset: QuerySet, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """How many rows match, counting no further than `cap`; and whether there are more."""
    found = queryset.order_by().values("pk")[: cap + 1].count()
    return min(found, cap), found > cap


@dataclass(frozen=True)
class PagerLink:
    """One control of a table's pager: a label and its URL (None when it leads nowhere now)."""

    label: str
    url: str | None
    rel: str = ""


@dataclass(frozen=True)
class Pager:
    """What the one pager template (`_pagination.html`) draws under every console table."""

    summary: str
    sizes: list[PagerLink]
    links: list[PagerLink]


def _with(query: QueryDict, **changes: object) -> str:
    """The current query string with some parameters replaced (an empty value removes one)."""
    params = query.copy()
    for name, value in changes.items():
        if value in ("", None):
            params.pop(name, None)
        else:
            params[name] = str(value)
    return "?" + params.urlencode()


def table_pager(table: Any, query: QueryDict) -> Pager | None:
    """The pager of a table: keyset pages (Activity) or numbered ones, with the page sizes.

    - A numbered table counts its pages only when its paginator did (never the lazy ones).
    - A table without `page_sizes` shows a pager only when it has more than one page.
    """
    page_sizes = getattr(table, "page_sizes", ())
    if hasattr(table, "next_cursor"):
        current = table.per_page
        summary = "Newest first" + ("" if table.at_start else " · an older page")
        links = [
            PagerLink("Newest", None if table.at_start else _with(query, after="")),
            PagerLink(
                "Older",
                _with(query, after=table.next_cursor) if table.next_cursor else None,
                "next",
            ),
        ]
        size_change = {"after": ""}
    else:
        page = getattr(table, "page", None)
        if page is None or (not page_sizes and not page.has_other_pages()):
            return None
        if not len(page.object_list) and page.number == 1:
            return None
        current = table.paginator.per_page
        counted = (
            "" if isinstance(table.paginator, LazyPaginator) else f" of {table.paginator.num_pages}"
        )
        rows = f"{page.start_index()}\N{EN DASH}{page.end_index()}"
        summary = f"Page {page.number}{counted} · rows {rows}"
        links = [
            PagerLink("First", _with(query, page=1) if page.number > 1 else None),
            PagerLink(
                "Previous",
                _with(query, page=page.number - 1) if page.has_previous() else None,
                "prev",
            ),
            PagerLink(
                "Next", _with(query, page=page.number + 1) if page.has_next() else None, "next"
            ),
        ]
        size_change = {"page": 1}
    sizes = [
        PagerLink(
            str(size), None if size == current else _with(query, per_page=size, **size_change)
        )
        for size in page_sizes
    ]
    return Pager(summary, sizes, links)
