"""The Activity page: every decision the API made and every change an admin made.

- Two tabs (`?tab=decisions`, the default, and `?tab=changes`); filters, sort and page in the URL.
- Pages never COUNT the table: rows are paged by key (DeferredJoinPaginator) and the total line
  counts no further than a cap.
- Bad parameters never fail the page: each is ignored or shown as a notice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import EmptyPage
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django_filters import FilterSet
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin, Table

from agenwork.pagination import DeferredJoinPaginator, capped_count
from agenwork.roles import is_admin
from audit.models import AuditEntry
from dashboard.filtersets import AuditEntryFilterSet, DecisionLogFilterSet
from dashboard.tables import AuditEntryTable, DecisionLogTable
from policies.models import DecisionLog

ADMINS_ONLY = "Only admins can open this page."
PAGE_SIZES = (25, 50, 100)
SORTS = ("-time", "time")
TABLE_TARGET = "activity-table"


def decision_rows() -> QuerySet[DecisionLog]:
    """Decisions with the columns the table shows (not the per-tool detail)."""
    return DecisionLog.objects.only(
        "created_at",
        "user_ref",
        "agent",
        "connector_slug",
        "tools",
        "decision",
        "reason_code",
        "api_key_name",
        "request_public_id",
    )


def change_rows() -> QuerySet[AuditEntry]:
    """Audit entries with what the table shows; the actor's name is on the row."""
    return AuditEntry.objects.defer("actor")


@dataclass(frozen=True)
class Tab:
    """One tab of the page: its rows, table and filters."""

    slug: str
    label: str
    noun: str
    rows: Callable[[], QuerySet]
    table_class: type[Table]
    filterset_class: type[FilterSet]


TABS = {
    tab.slug: tab
    for tab in (
        Tab(
            slug="decisions",
            label="API decisions",
            noun="decision",
            rows=decision_rows,
            table_class=DecisionLogTable,
            filterset_class=DecisionLogFilterSet,
        ),
        Tab(
            slug="changes",
            label="Changes",
            noun="change",
            rows=change_rows,
            table_class=AuditEntryTable,
            filterset_class=AuditEntryFilterSet,
        ),
    )
}
DEFAULT_TAB = "decisions"


class ActivityView(LoginRequiredMixin, SingleTableMixin, FilterView):
    """Admins only; the table partial alone when htmx targets it."""

    template_name = "dashboard/activity.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_admin(request.user):
            raise PermissionDenied(ADMINS_ONLY)
        self.notices: list[str] = []
        self.tab = self._tab()
        return super().get(request, *args, **kwargs)

    def _tab(self) -> Tab:
        slug = self.request.GET.get("tab", "") or DEFAULT_TAB
        if slug not in TABS:
            self.notices.append(f"Unknown tab “{slug[:40]}”: showing API decisions.")
            return TABS[DEFAULT_TAB]
        return TABS[slug]

    def get_queryset(self) -> QuerySet:
        return self.tab.rows()

    def get_filterset_class(self) -> type[FilterSet]:
        return self.tab.filterset_class

    def get_table_class(self) -> type[Table]:
        return self.tab.table_class

    def get_table(self, **kwargs: Any) -> Table:
        # Not `request=`: that would paginate once more with a counting paginator.
        table = self.get_table_class()(data=self.get_table_data(), **kwargs)
        table.request = self.request
        table.order_by = self._sort()
        table.page_sizes = PAGE_SIZES
        per_page = self._int_param("per_page", PAGE_SIZES[0], lambda n: n in PAGE_SIZES)
        number = self._int_param("page", 1, lambda n: n >= 1)
        try:
            table.paginate(paginator_class=DeferredJoinPaginator, per_page=per_page, page=number)
        except EmptyPage:
            self.notices.append(f"Page {number} is past the end of this list.")
            table.paginate(paginator_class=DeferredJoinPaginator, per_page=per_page, page=1)
        return table

    def _sort(self) -> str:
        sort = self.request.GET.get("sort", "") or SORTS[0]
        if sort not in SORTS:
            self.notices.append(f"Unknown sort “{sort[:40]}”: showing the newest first.")
            return SORTS[0]
        return sort

    def _int_param(self, name: str, default: int, valid: Callable[[int], bool]) -> int:
        raw = self.request.GET.get(name, "")
        if raw == "":
            return default
        if not (raw.isdigit() and valid(int(raw))):
            self.notices.append(f"Ignored {name.replace('_', ' ')} “{raw[:20]}”.")
            return default
        return int(raw)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        filterset = context["filter"]
        self.notices.extend(filter_notices(filterset, self.request))
        valid = not filterset.is_bound or filterset.is_valid()
        total, more = capped_count(filterset.qs) if valid else (0, False)
        context.update(
            tab=self.tab,
            tabs=TABS.values(),
            notices=self.notices,
            total=total,
            more_than_total=more,
        )
        return context

    def get_template_names(self) -> list[str]:
        htmx = self.request.htmx
        if htmx and not htmx.history_restore_request and htmx.target == TABLE_TARGET:
            return [f"{self.template_name}#table"]
        return [self.template_name]


def filter_notices(filterset: FilterSet, request: HttpRequest) -> list[str]:
    """One line per rejected filter, naming what was typed; the table then shows no rows."""
    notices = []
    for name, errors in filterset.form.errors.items():
        field = filterset.form.fields.get(name)
        label = field.label if field is not None else "Filters"
        raw = request.GET.get(name, "")
        typed = f" “{raw[:40]}”" if raw else ""
        notices.append(f"{label}{typed}: {' '.join(errors)} No rows are shown until it is fixed.")
    return notices
