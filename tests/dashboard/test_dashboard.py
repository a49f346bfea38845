"""The Dashboard: figures and charts against known data, approver figures, personas, queries."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard import figures as figures_module
from dashboard.charts import PLOT_H, decisions_chart, nice_max
from dashboard.figures import Scope, compute_figures, duration_text, local_midnight
from dashboard.tasks import refresh_dashboard_figures
from requests_app.links import link_create
from requests_app.models import AccessRequest
from requests_app.opened import opened_token
from tests.factories import ConnectorFactory, ToolFactory, link_approval, make_request

Status = AccessRequest.Status
HTMX = {"HTTP_HX_REQUEST": "true"}


def html(response) -> str:
    return response.content.decode()


def today_at(hours: float, days_ago: int = 0) -> datetime:
    """A fixed instant: `hours` after local midnight, `days_ago` days back."""
    return local_midnight(timezone.localdate()) - timedelta(days=days_ago) + timedelta(hours=hours)


def request_at(requester, tools, flow, *, requested_at, status=Status.PENDING, decided_at=None):
    """A request created by the service, then moved to the given status and times."""
    req = make_request(requester=requester, tools=tools, flow=flow)
    AccessRequest.objects.filter(pk=req.pk).update(
        status=status, requested_at=requested_at, decided_at=decided_at
    )
    req.refresh_from_db()
    return req


# (status, requested: (hours, days ago), decided: (hours, days ago))
KNOWN = [
    (Status.APPROVED, (0.5, 0), (1.5, 0)),  # today, after 1 h
    (Status.DENIED, (0.5, 0), (3.5, 0)),  # today, after 3 h
    (Status.AUTO_APPROVED, (1, 1), (1, 0)),  # today, after 24 h
    (Status.EXPIRED, (1, 4), (1, 3)),  # three days ago
    (Status.CANCELLED, (1, 4), (2, 3)),  # three days ago
    (Status.APPROVED, (1, 200), (5, 200)),  # long ago: outside every window
]


@pytest.fixture
def known(requester, tools, flow):
    """Two pending (one on GitHub), the decided requests of KNOWN on Google Calendar."""
    github = ToolFactory(connector=ConnectorFactory(slug="github", name="GitHub"), key="gh_list")
    request_at(requester, tools[:1], flow, requested_at=today_at(1, days_ago=2))
    request_at(requester, [github], flow, requested_at=today_at(2))
    for status, requested, decided in KNOWN:
        request_at(
            requester,
            tools[:1],
            flow,
            requested_at=today_at(*requested),
            status=status,
            decided_at=today_at(*decided),
        )
    return github


# --- figures --------------------------------------------------------------------------------------


def test_figures_count_pending_and_today(known):
    figures = compute_figures(Scope(flow_ids=None), timezone.now())
    assert figures.pending == 2
    assert figures.oldest_pending_at == today_at(1, days_ago=2)
    assert figures.decided_today == 3
    assert figures.auto_approved_today == 1


def test_decisions_per_day_stack_by_outcome_over_30_days(known):
    figures = compute_figures(Scope(flow_ids=None), timezone.now())
    today = timezone.localdate()
    three_days_ago = today - timedelta(days=3)
    assert figures.per_day == {
        (today, "approved"): 1,
        (today, "denied"): 1,
        (today, "auto_approved"): 1,
        (three_days_ago, "lapsed"): 2,
    }
    assert len(figures.days) == 30 and figures.days[-1] == today


def test_median_time_to_decision_counts_people_decisions_per_week(known, requester, tools, flow):
    # One more approval this week after 2 h: the week's waits are 1 h, 2 h, 3 h → median 2 h.
    request_at(
        requester,
        tools[:1],
        flow,
        requested_at=today_at(0),
        status=Status.APPROVED,
        decided_at=today_at(2),
    )
    figures = compute_figures(Scope(flow_ids=None), timezone.now())
    this_week = figures.weeks[-1]
    assert figures.median_per_week == {this_week: timedelta(hours=2)}


def test_requests_by_connector_are_the_last_30_days_most_first(known):
    figures = compute_figures(Scope(flow_ids=None), timezone.now())
    assert figures.by_connector == [("Google Calendar", 6), ("GitHub", 1)]


def test_duration_text_reads_like_people_talk():
    assert [duration_text(v) for v in (None, 4_200, 45_000, 720_000)] == [
        "—",
        "4.2 s",
        "45 s",
        "12 min",
    ]
    assert duration_text(timedelta(hours=3, minutes=30)) == "3.5 h"
    assert duration_text(timedelta(days=2)) == "2.0 d"


# --- charts ---------------------------------------------------------------------------------------


def test_nice_max_rounds_up_to_1_2_or_5():
    assert [nice_max(v) for v in (0, 1, 3, 7, 12, 180)] == [1, 1, 5, 10, 20, 200]


def test_stacked_bars_have_heights_in_proportion(known):
    chart = decisions_chart(compute_figures(Scope(flow_ids=None), timezone.now()))
    today = [r for r in chart.rects if r.label.startswith(timezone.localdate().strftime("%d %b"))]
    assert sorted(r.css for r in today) == ["approved", "auto_approved", "denied"]
    # The tallest day has 3 decisions on an axis up to 5: each segment is a fifth of the plot.
    assert {round(r.h, 3) for r in today} == {round(PLOT_H / 5, 3)}
    assert [row[0] for row in chart.rows] == [
        (timezone.localdate() - timedelta(days=3)).strftime("%d %b"),
        timezone.localdate().strftime("%d %b"),
    ]


def test_page_draws_the_three_charts_as_accessible_svg(admin_client, known):
    body = html(admin_client.get("/"))
    assert "<script" not in body.split("<main", 1)[1].split("</main>", 1)[0]
    svgs = re.findall(r'<svg class="chart-svg".*?</svg>', body, re.S)
    assert len(svgs) == 3
    for svg, title in zip(
        svgs, ["Decisions per day", "Median time to decision", "Requests by connector"], strict=True
    ):
        assert 'role="img"' in svg
        assert f">{title}</title>" in svg
        assert "<desc " in svg
    decisions, medians, connectors = svgs
    assert (
        len(re.findall(r'class="bar bar-(?:approved|denied|auto_approved|lapsed)"', decisions)) == 4
    )
    assert 'class="axis-label"' in decisions and ">Requests decided</text>" in decisions
    assert len(re.findall(r'class="bar bar-median"', medians)) == 1
    assert re.findall(r"<title>([^<]+): \d+</title>", connectors) == ["Google Calendar", "GitHub"]
    assert body.count("<summary>Data table</summary>") == 3


def test_figures_are_shown(admin_client, known):
    body = html(admin_client.get("/"))
    values = dict(re.findall(r'data-figure="([\w-]+)".*?figure-value">([^<]+)<', body, re.S))
    assert values == {
        "pending": "2",
        "oldest": values["oldest"],
        "decided-today": "3",
        "auto-approved-today": "1",
    }
    assert values["oldest"].endswith((" d", " h"))


def test_an_empty_console_shows_no_chart_but_says_so(admin_client, db):
    body = html(admin_client.get("/"))
    assert body.count("No data for this period yet.") == 3
    assert "No decisions by people in the last 30 days." in body


def test_figures_are_cached_for_a_minute(admin_client, known, requester, tools, flow):
    admin_client.get("/")
    make_request(requester=requester, tools=tools[:1], flow=flow)
    assert 'data-figure="pending"' in html(admin_client.get("/"))
    assert re.search(r'data-figure="pending".*?figure-value">2<', html(admin_client.get("/")), re.S)
    cache.clear()
    assert re.search(r'data-figure="pending".*?figure-value">3<', html(admin_client.get("/")), re.S)


# --- approver figures and rubber-stamping ---------------------------------------------------------


def _decide(client, req, *, looked_ms: int, approve: bool = True):
    token = opened_token(req.public_id, now_ms=int(time.time() * 1000) - looked_ms)
    action = "approve" if approve else "deny"
    data = {"opened": token, "tools": [rt.tool_id for rt in req.tools.all()], "duration": "once"}
    response = client.post(f"/requests/{req.public_id}/{action}/", data, **HTMX)
    assert response.status_code == 200


def approver_rows(body: str) -> dict[str, list[str]]:
    table = re.search(r'<section class="card approver-figures".*?</section>', body, re.S).group(0)
    rows = re.findall(r'<tr[^>]*data-approver="([^"]*)">(.*?)</tr>', table, re.S)
    cells = {
        name: [
            re.sub(r"<[^>]+>|\s+", " ", c).strip()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for name, row in rows
    }
    return cells


@pytest.fixture
def decided_by_people(admin_user, approver_user, requester, tools, flow):
    """Dana approves one request 2 s after opening it, another after 60 s; the admin denies one."""
    reqs = [make_request(requester=requester, tools=tools[:1], flow=flow) for _ in range(3)]
    dana, admin = Client(), Client()
    dana.force_login(approver_user)
    admin.force_login(admin_user)
    _decide(dana, reqs[0], looked_ms=2_000)
    _decide(dana, reqs[1], looked_ms=60_000)
    _decide(admin, reqs[2], looked_ms=30_000, approve=False)
    return reqs


def test_admins_see_each_approver_and_fast_approvals_flagged(admin_client, decided_by_people):
    body = html(admin_client.get("/"))
    rows = approver_rows(body)
    assert set(rows) == {"Dana Levi", "admin"}
    name, decisions, median, fast = rows["Dana Levi"]
    assert (name, decisions, fast) == ("Dana Levi", "2", "1 possible rubber-stamp")
    assert median.endswith(" s")  # the median of about 2 s and about 60 s
    assert 25 <= float(median.split()[0]) <= 40
    assert rows["admin"][1:] == ["1", rows["admin"][2], "0"]
    assert re.search(r'<tr class="rubber-stamp" data-approver="Dana Levi">', body)


def test_decisions_with_unknown_time_count_but_are_never_flagged(admin_client, access_request):
    admin_client.post(
        f"/requests/{access_request.public_id}/approve/",
        {"opened": "forged", "tools": [rt.tool_id for rt in access_request.tools.all()]},
        **HTMX,
    )
    rows = approver_rows(html(admin_client.get("/")))
    assert rows["admin"] == ["admin", "1", "—", "0"]


def test_approvers_see_only_their_own_figures(approver_client, decided_by_people):
    body = html(approver_client.get("/"))
    assert "Your decisions · last 30 days" in body
    assert set(approver_rows(body)) == {"Dana Levi"}


def test_approvers_figures_cover_only_their_flows(approver_client, known, requester, tools):
    other_flow_request = make_request(requester=requester, tools=tools[:1], flow=None)
    body = html(approver_client.get("/"))
    assert re.search(r'data-figure="pending".*?figure-value">2<', body, re.S)
    assert other_flow_request.public_id.hex not in body.replace("-", "")


# --- the pending widget, personas -----------------------------------------------------------------


def test_widget_rows_open_the_review_panel_with_htmx(admin_client, access_request):
    body = html(admin_client.get("/"))
    url = f"/requests/{access_request.public_id}/"
    assert f'hx-get="{url}" hx-target="#panel"' in body
    assert '<aside id="panel" class="panel"' in body
    panel = admin_client.get(url, **HTMX)
    assert panel.status_code == 200 and "<html" not in html(panel)


def test_a_person_who_decides_nothing_is_sent_to_my_agents_and_anonymous_to_login(
    outsider_client, client, access_request
):
    mine = outsider_client.get("/")
    assert mine.status_code == 302 and mine["Location"] == "/me/"
    client.logout()
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# --- queries --------------------------------------------------------------------------------------


def _queries(client) -> int:
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    ("persona", "expected"),
    # session, user with person (the approver's flows, the sidebar), [flows], widget rows;
    # figures: pending, per day, medians, connectors, approvers, approver medians
    [("admin", 9), ("approver", 10)],
)
def test_dashboard_runs_a_fixed_number_of_queries(
    request, persona, expected, decided_by_people, requester, tools, flow
):
    client = request.getfixturevalue(f"{persona}_client")
    small = _queries(client)
    for days_ago in range(12):
        request_at(
            requester,
            tools[:1],
            flow,
            requested_at=today_at(1, days_ago),
            status=Status.APPROVED,
            decided_at=today_at(2, days_ago),
        )
        make_request(requester=requester, tools=tools[:2], flow=flow)
    assert _queries(client) == small == expected


def test_stale_figures_are_shown_while_one_task_recomputes_them(
    admin_client, known, requester, tools, flow, monkeypatch
):
    published = []
    monkeypatch.setattr(
        figures_module, "publish_after_commit", lambda task, *args: published.append(args)
    )
    admin_client.get("/")
    make_request(requester=requester, tools=tools[:1], flow=flow)
    later = timezone.now() + timedelta(minutes=2)
    monkeypatch.setattr(figures_module.timezone, "now", lambda: later)

    first, second = html(admin_client.get("/")), html(admin_client.get("/"))

    assert re.search(r'data-figure="pending".*?figure-value">2<', first, re.S)
    assert re.search(r'data-figure="pending".*?figure-value">2<', second, re.S)
    assert len(published) == 1 and published[0][0] is None  # one refresh, not one per view
    refresh_dashboard_figures(*published[0])
    assert re.search(r'data-figure="pending".*?figure-value">3<', html(admin_client.get("/")), re.S)


def test_the_page_says_the_figures_refresh_every_minute(admin_client, known):
    assert "Figures and charts refresh every minute." in html(admin_client.get("/"))


def test_figures_younger_than_the_configured_age_are_not_recomputed(
    admin_client, known, settings, monkeypatch
):
    settings.DASHBOARD_FIGURES_MAX_AGE_SECONDS = 300
    published = []
    monkeypatch.setattr(
        figures_module, "publish_after_commit", lambda task, *args: published.append(args)
    )
    first = html(admin_client.get("/"))
    later = timezone.now() + timedelta(minutes=2)
    monkeypatch.setattr(figures_module.timezone, "now", lambda: later)

    admin_client.get("/")

    assert "Figures and charts refresh every 5 min." in first
    assert published == []


def test_cached_figures_cost_no_query(admin_client, known):
    admin_client.get("/")
    with CaptureQueriesContext(connection) as queries:
        admin_client.get("/")
    assert len(queries) == 3  # session, user with the sidebar's person, widget rows


def test_an_approvers_link_decisions_count_as_their_own(
    approver_client, approver_user, access_request
):
    token = link_create(access_request=access_request, person=approver_user.person, channel="sms")
    opened = opened_token(access_request.public_id, now_ms=int(time.time() * 1000) - 1_000)
    Client().post(f"/a/{token}/", link_approval(access_request, opened=opened))
    rows = approver_rows(html(approver_client.get("/")))
    assert rows == {
        "Dana Levi": ["Dana Levi", "1", rows["Dana Levi"][2], "1 possible rubber-stamp"]
    }


def test_the_pending_widget_reloads_alone_after_a_decision(admin_client, known):
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="pending-widget")
    body = html(response)
    assert response.status_code == 200
    assert body.lstrip().startswith('<div class="card" id="pending-widget"')
    assert 'data-figure="pending"' not in body and "<svg" not in body
    assert len(queries) <= 4  # session, user, the login's flows, the widget's rows
