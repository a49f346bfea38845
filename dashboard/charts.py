"""Charts as data for an inline SVG: geometry here, markup in `dashboard/_chart.html`.

Each chart carries its title, a one-sentence description (the SVG's accessible name), axis
labels and the same numbers as a table, so a screen reader or a copy-paste gets them too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from dashboard.figures import OUTCOMES, Figures, duration_text

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 26, 40
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
BAR_HEIGHT = 26


@dataclass(frozen=True)
class Rect:
    """One bar (or one segment of a stacked bar), with its tooltip."""

    x: float
    y: float
    w: float
    h: float
    css: str
    label: str


@dataclass(frozen=True)
class Label:
    """A piece of text on the chart: an axis tick or a bar's name."""

    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclass
class Chart:
    """What `_chart.html` draws, and the table it shows beside it."""

    slug: str
    title: str
    description: str
    x_label: str
    y_label: str
    width: int = WIDTH
    height: int = HEIGHT
    rects: list[Rect] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    grid: list[float] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    head: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.rects


def nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1
    step = 1.0
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _y_axis(chart: Chart, top: float, unit: str = "") -> None:
    for fraction in (0, 0.5, 1):
        y = TOP + PLOT_H * (1 - fraction)
        chart.grid.append(y)
        text = _number(top * fraction) + unit
        chart.labels.append(Label(LEFT - 6, y + 4, text, "end"))


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def decisions_chart(figures: Figures) -> Chart:
    """Requests decided per day over the last 30 days, stacked by outcome."""
    chart = Chart(
        slug="decisions",
        title="Decisions per day",
        description=f"Requests decided on each of the last {len(figures.days)} days, by outcome.",
        x_label="Day",
        y_label="Requests decided",
        legend=[(slug, label) for slug, label, _ in OUTCOMES],
        head=["Day", *(label for _, label, _ in OUTCOMES), "Total"],
    )
    totals = [sum(figures.per_day.get((d, s), 0) for s, _, _ in OUTCOMES) for d in figures.days]
    top = nice_max(max(totals, default=0))
    _y_axis(chart, top)
    slot = PLOT_W / len(figures.days)
    for i, (day, total) in enumerate(zip(figures.days, totals, strict=True)):
        x, base = LEFT + i * slot + slot * 0.15, TOP + PLOT_H
        counts = [figures.per_day.get((day, slug), 0) for slug, _, _ in OUTCOMES]
        for (slug, label, _), n in zip(OUTCOMES, counts, strict=True):
            if n:
                h = PLOT_H * n / top
                base -= h
                chart.rects.append(
                    Rect(x, base, slot * 0.7, h, slug, f"{_day(day)}: {n} {label.lower()}")
                )
        if i % 5 == (len(figures.days) - 1) % 5:
            chart.labels.append(Label(x + slot * 0.35, HEIGHT - BOTTOM + 16, _day(day)))
        if total:
            chart.rows.append([_day(day), *map(str, counts), str(total)])
    return chart


def _day(day: date) -> str:
    return day.strftime("%d %b")


def time_to_decision_chart(figures: Figures) -> Chart:
    """The median time from request to a person's decision, per week."""
    chart = Chart(
        slug="time-to-decision",
        title="Median time to decision",
        description=(
            "Median hours from request to an approver's decision, "
            f"for each of the last {len(figures.weeks)} weeks."
        ),
        x_label="Week starting",
        y_label="Hours",
        head=["Week starting", "Median time to decision"],
    )
    hours = {
        week: value.total_seconds() / 3600
        for week, value in figures.median_per_week.items()
        if value is not None
    }
    top = nice_max(max(hours.values(), default=0))
    _y_axis(chart, top, " h")
    slot = PLOT_W / len(figures.weeks)
    for i, week in enumerate(figures.weeks):
        x = LEFT + i * slot + slot * 0.2
        if i % 2 == (len(figures.weeks) - 1) % 2:
            chart.labels.append(Label(x + slot * 0.3, HEIGHT - BOTTOM + 16, _day(week)))
        if week not in hours:
            continue
        h = PLOT_H * hours[week] / top
        text = duration_text(figures.median_per_week[week])
        chart.rects.append(
            Rect(x, TOP + PLOT_H - h, slot * 0.6, h, "median", f"Week of {_day(week)}: {text}")
        )
        chart.rows.append([_day(week), text])
    return chart


def connectors_chart(figures: Figures) -> Chart:
    """Horizontal bars: the connectors with the most requests over the last 30 days."""
    rows = figures.by_connector
    height = TOP + BOTTOM + BAR_HEIGHT * max(len(rows), 1)
    chart = Chart(
        slug="connectors",
        title="Requests by connector",
        description=(
            f"Requests per connector over the last {len(figures.days)} days, most requested first."
        ),
        x_label="Requests",
        y_label="Connector",
        height=height,
        head=["Connector", "Requests"],
    )
    left = 140
    width = WIDTH - left - RIGHT - 48
    top = max((n for _, n in rows), default=0) or 1
    for i, (name, n) in enumerate(rows):
        y = TOP + i * BAR_HEIGHT
        w = width * n / top
        chart.rects.append(
            Rect(left, y + 4, max(w, 1), BAR_HEIGHT - 8, "connector", f"{name}: {n}")
        )
        chart.labels.append(Label(left - 8, y + BAR_HEIGHT / 2 + 4, name, "end"))
        chart.labels.append(Label(left + w + 6, y + BAR_HEIGHT / 2 + 4, str(n), "start"))
        chart.rows.append([name, str(n)])
    return chart
