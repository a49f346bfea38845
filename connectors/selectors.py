"""Reads of the Connectors pages: the list, and one connector with its tools."""

from __future__ import annotations

from django.db.models import Case, Count, IntegerField, Prefetch, QuerySet, When
from django.db.models import Value as V

from connectors.models import Connector, Tool

# Sorting by status reads as health: connected first, then errors to look at, then the rest.
STATUS_RANK = {
    Connector.Status.CONNECTED: 0,
    Connector.Status.ERROR: 1,
    Connector.Status.DISCONNECTED: 2,
}


def connector_list() -> QuerySet[Connector]:
    """Connectors with their tool count and status rank: one query however many rows."""
    return Connector.objects.annotate(
        tool_count=Count("tools"),
        status_rank=Case(
            *(When(status=status, then=V(rank)) for status, rank in STATUS_RANK.items()),
            default=V(len(STATUS_RANK)),
            output_field=IntegerField(),
        ),
    )


def connector_for_page(slug: str) -> Connector | None:
    """One connector with its tools in key order (two queries), or None."""
    tools = Tool.objects.order_by("key", "id")
    return (
        Connector.objects.prefetch_related(Prefetch("tools", queryset=tools))
        .filter(slug=slug)
        .first()
    )


def tool_of(connector: Connector, pk: int) -> Tool | None:
    """One tool of this connector (never another connector's), or None."""
    return Tool.objects.select_related("connector").filter(connector=connector, pk=pk).first()
