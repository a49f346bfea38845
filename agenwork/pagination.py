"""Pagination for large tables: no COUNT over the table, and cheap deep pages."""

from __future__ import annotations

from django.core.paginator import EmptyPage, Page
from django.db.models import QuerySet
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
