"""The Dashboard's figures: a few aggregates over recent days, each an index range scan.

- Nothing aggregates over all time: pending requests (the status index), decisions of the last
  30 days (`req_decided_status`), requests of the last 30 days (`req_requested_connector`),
  people's decisions of the last 30 days (`event_time`), medians over the last 12 weeks.
- An admin sees every request; an approver sees the requests of their flows and their own
  decisions only.
- The whole set is kept per scope and recomputed by a task once it is a minute old
  (DASHBOARD_FIGURES_MAX_AGE_SECONDS): a page view counts nothing unless no copy is cached at
  all (the first view of a scope, or a lost cache). The cache is shared by every process (Redis,
  or files under VAR_DIR in `make run`), so the web server shows what the worker computed.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Aggregate, Count, DurationField, F, FloatField, Min, Q, QuerySet
from django.db.models import ExpressionWrapper as Expr
from django.db.models.functions import TruncDate, TruncWeek
from django.utils import timezone

from agenwork.broker import publish_after_commit
from requests_app.models import AccessRequest, Channel, RequestEvent
from requests_app.selectors import console_person

Status = AccessRequest.Status
Kind = RequestEvent.Kind
DAYS = 30
WEEKS = 12
TOP_CONNECTORS = 6
KEEP_SECONDS = 24 * 3600
# Published by name: the task module imports this one.
REFRESH_TASK = "dashboard.tasks.refresh_dashboard_figures"
# An approval this soon after the approver opened the request may not have been read.
RUBBER_STAMP_MS = 5_000
# The outcomes of the decisions chart, in stacking order; expired and cancelled share a colour.
OUTCOMES = (
    ("approved", "Approved", (Status.APPROVED,)),
    ("denied", "Denied", (Status.DENIED,)),
    ("auto_approved", "Auto-approved", (Status.AUTO_APPROVED,)),
    ("lapsed", "Expired or cancelled", (Status.EXPIRED, Status.CANCELLED)),
)
PEOPLE_CHANNELS = (Channel.WEB, Channel.EMAIL, Channel.SMS)
DECISION_KINDS = (Kind.APPROVED, Kind.DENIED, Kind.VOTED)
APPROVAL_KINDS = (Kind.APPROVED, Kind.VOTED)


class Median(Aggregate):
    """PostgreSQL's median (percentile_cont); other databases use `_medians`' fallback."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"


@dataclass(frozen=True)
class Scope:
    """Whose figures: every request (admin), or an approver's flows and own decisions."""

    flow_ids: list[int] | None
    user: Any = None

    @property
    def cache_key(self) -> str:
        if self.flow_ids is None:
            return "all"
        return f"user{self.user.pk}:" + ",".join(map(str, sorted(self.flow_ids)))

    def requests(self) -> QuerySet[AccessRequest]:
        qs = AccessRequest.objects.all()
        return qs if self.flow_ids is None else qs.filter(flow_id__in=self.flow_ids)

    def decisions(self) -> QuerySet[RequestEvent]:
        """People's decisions (a final approve or deny, or a vote towards N approvals)."""
        qs = RequestEvent.objects.filter(kind__in=DECISION_KINDS, channel__in=PEOPLE_CHANNELS)
        if self.flow_ids is None:
            return qs
        person = console_person(self.user)
        # Link and SMS decisions carry the person's name, not the login.
        by_link = Q(actor__isnull=True, actor_name=person.name if person else "")
        return qs.filter(Q(actor=self.user) | by_link)


@dataclass
class ApproverFigures:
    """One approver's last 30 days: decisions, median response, approvals under 5 seconds."""

    name: str
    decisions: int
    median_ms: float | None
    fast_approvals: int

    @property
    def median_text(self) -> str:
        return duration_text(self.median_ms)


def duration_text(value: timedelta | float | None) -> str:
    """A duration (or milliseconds) as people say it: "4 s", "12 min", "3.5 h"; "—" if unknown."""
    if value is None:
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else value / 1000
    for size, unit in ((86400, "d"), (3600, "h")):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


@dataclass
class Figures:
    """Everything the Dashboard shows besides the pending widget."""

    today: date
    pending: int
    oldest_pending_at: datetime | None
    decided_today: int
    auto_approved_today: int
    days: list[date]
    per_day: dict[tuple[date, str], int]
    weeks: list[date]
    median_per_week: dict[date, timedelta | None]
    by_connector: list[tuple[str, int]]
    approvers: list[ApproverFigures] = field(default_factory=list)


def dashboard_figures(scope: Scope, now: datetime | None = None) -> Figures:
    """The figures for this scope, from the cache; recomputed in the background when stale.

    - Stale: older than `figures_max_age()`, or computed on another day. The stale copy is shown
      and one task per scope and period recomputes it (dashboard.tasks.refresh_dashboard_figures).
    - With no copy cached at all, this view computes and caches them itself.
    """
    now = now or timezone.now()
    cached = cache.get(_cache_key(scope))
    if cached is None:
        return figures_refresh(scope, now)
    computed_at, figures = cached
    max_age = figures_max_age()
    new_day = timezone.localdate(computed_at) != timezone.localdate(now)
    stale = now - computed_at > max_age or new_day
    refreshing = _cache_key(scope) + ":refreshing"
    if stale and cache.add(refreshing, True, int(max_age.total_seconds())):
        user_id = scope.user.pk if scope.user is not None else None
        publish_after_commit(REFRESH_TASK, scope.flow_ids, user_id)
    return figures


def figures_max_age() -> timedelta:
    """How old the figures may grow before a task recomputes them (a minute by default)."""
    return timedelta(seconds=settings.DASHBOARD_FIGURES_MAX_AGE_SECONDS)


def figures_refresh(scope: Scope, now: datetime | None = None) -> Figures:
    """Compute this scope's figures now and keep them for the views that follow."""
    now = now or timezone.now()
    figures = compute_figures(scope, now)
    cache.set(_cache_key(scope), (now, figures), KEEP_SECONDS)
    cache.delete(_cache_key(scope) + ":refreshing")
    return figures


def _cache_key(scope: Scope) -> str:
    return f"dashboard:figures:{scope.cache_key}"


def compute_figures(scope: Scope, now: datetime) -> Figures:
    """Five queries: pending, decisions per day, medians per week, connectors, approvers."""
    today = timezone.localdate(now)
    requests = scope.requests()
    pending = requests.filter(status=Status.PENDING).aggregate(
        n=Count("*"), oldest=Min("requested_at")
    )
    days = [today - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    per_day = decisions_per_day(requests, days[0])
    weeks = week_starts(today)
    return Figures(
        today=today,
        pending=pending["n"],
        oldest_pending_at=pending["oldest"],
        decided_today=sum(n for (day, _), n in per_day.items() if day == today),
        auto_approved_today=per_day.get((today, "auto_approved"), 0),
        days=days,
        per_day=per_day,
        weeks=weeks,
        median_per_week=median_per_week(requests, weeks),
        by_connector=requests_by_connector(requests, days[0]),
        approvers=approver_figures(scope, local_midnight(days[0])),
    )


def local_midnight(day: date) -> datetime:
    """The first instant of `day` in the console's time zone."""
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def week_starts(today: date) -> list[date]:
    """The Mondays of the last WEEKS weeks, this week last."""
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=n) for n in range(WEEKS - 1, -1, -1)]


def decisions_per_day(
    requests: QuerySet[AccessRequest], first: date
) -> dict[tuple[date, str], int]:
    """(day, outcome) → how many requests were decided that day with that outcome."""
    outcome_of = {status: slug for slug, _, statuses in OUTCOMES for status in statuses}
    rows = (
        requests.filter(decided_at__gte=local_midnight(first))
        .annotate(day=TruncDate("decided_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "status")
        .annotate(n=Count("*"))
        .order_by()
    )
    counts: dict[tuple[date, str], int] = defaultdict(int)
    for row in rows:
        if row["status"] in outcome_of:
            counts[(row["day"], outcome_of[row["status"]])] += row["n"]
    return dict(counts)


def median_per_week(
    requests: QuerySet[AccessRequest], weeks: list[date]
) -> dict[date, timedelta | None]:
    """Monday → the median time from request to a person's decision, for weeks with decisions."""
    decided = requests.filter(
        decided_at__gte=local_midnight(weeks[0]),
        status__in=(Status.APPROVED, Status.DENIED),
    ).annotate(
        week=TruncWeek("decided_at", tzinfo=timezone.get_current_timezone()),
        waited=Expr(F("decided_at") - F("requested_at"), output_field=DurationField()),
    )
    medians = _medians(decided, "week", "waited", DurationField())
    return {_as_date(week): value for week, value in medians.items()}


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def requests_by_connector(requests: QuerySet[AccessRequest], first: date) -> list[tuple[str, int]]:
    """The connectors asked for most since `first`, with how many requests each."""
    rows = (
        requests.filter(requested_at__gte=local_midnight(first))
        .values("connector_name")
        .annotate(n=Count("*"))
        .order_by("-n", "connector_name")[:TOP_CONNECTORS]
    )
    return [(row["connector_name"], row["n"]) for row in rows]


def approver_figures(scope: Scope, since: datetime) -> list[ApproverFigures]:
    """Per person who decided since `since`: decisions, median response, fast approvals."""
    events = scope.decisions().filter(created_at__gte=since)
    fast = Q(kind__in=APPROVAL_KINDS, response_ms__lt=RUBBER_STAMP_MS)
    rows = list(
        events.values("actor_name")
        .annotate(n=Count("*"), fast=Count("response_ms", filter=fast))
        .order_by("-n", "actor_name")
    )
    medians = _medians(events, "actor_name", "response_ms", FloatField(), nulls=False)
    return [
        ApproverFigures(row["actor_name"], row["n"], medians.get(row["actor_name"]), row["fast"])
        for row in rows
    ]


def _medians(
    qs: QuerySet, group: str, value: str, output_field: Any, nulls: bool = True
) -> dict[Any, Any]:
    """group → median of `value` (one query); PostgreSQL computes it, elsewhere Python does."""
    if not nulls:
        qs = qs.filter(**{f"{value}__isnull": False})
    if connection.vendor == "postgresql":
        rows = qs.values(group).annotate(m=Median(value, output_field=output_field)).order_by()
        return {row[group]: row["m"] for row in rows}
    values: dict[Any, list[Any]] = defaultdict(list)
    for key, item in qs.values_list(group, value).order_by():
        if item is not None:
            values[key].append(item)
    return {key: statistics.median_low(items) for key, items in values.items()}
