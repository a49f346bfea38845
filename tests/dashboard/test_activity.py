"""The Activity trail: request history, API decisions and changes merged; filters, pages, CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEntry
from dashboard.activity import Cursor, TrailFilter, trail_page
from dashboard.tables import MISSING, changed_fields, render_diff
from dashboard.views_activity import spreadsheet_safe
from gateways.services import api_key_create, api_key_revoke
from policies.models import DecisionLog, Policy
from policies.services import PolicyData
from requests_app.models import RequestEvent
from requests_app.services import Actor, request_approve, request_resolve_with_policy

URL = "/activity/"
CSV_URL = "/activity/export.csv"
HTMX_TABLE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "activity-table"}
COLUMNS = ["Time", "Kind", "Who", "Channel", "What", "Object", "Change"]
T0 = datetime(2026, 3, 5, 12, 0, tzinfo=timezone.get_fixed_timezone(0))


def html(response) -> str:
    return response.content.decode()


def rows(response) -> list[str]:
    """The rows of the table, top to bottom, as "kind:pk"."""
    found = re.findall(r'<tr data-kind="(\w+)" data-pk="(\d+)"', html(response))
    return [f"{kind}:{pk}" for kind, pk in found]


def notices(response) -> list[str]:
    return re.findall(
        r'class="alert alert-warning py-2 mb-2 notice" role="alert">(.*?)</div>', html(response)
    )


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def log(minutes: float, **fields) -> DecisionLog:
    """One API decision at T0 + minutes."""
    values = {
        "created_at": at(minutes),
        "api_key_name": "gateway-prod",
        "user_ref": "ben@example.com",
        "agent": "Claude",
        "connector_slug": "github",
        "tools": ["github_repos_list"],
        "tool_decisions": [],
        "decision": "allow",
        "reason_code": "policy_allow",
        **fields,
    }
    return DecisionLog.objects.create(**values)


def change(minutes: float, **fields) -> AuditEntry:
    """One audit entry at T0 + minutes: a policy update by Ana Admin."""
    values = {
        "created_at": at(minutes),
        "actor_name": "Ana Admin",
        "action": AuditEntry.Action.UPDATED,
        "object_type": "policy",
        "object_id": "7",
        "object_repr": "Calendar for Sales",
        "before": {"name": "Calendar", "action": "allow"},
        "after": {"name": "Calendar", "action": "deny"},
        **fields,
    }
    return AuditEntry.objects.create(**values)


def event(access_request, minutes: float, **fields) -> RequestEvent:
    """One request event at T0 + minutes."""
    values = {"kind": "reminded", "actor_name": "agenwork", "channel": "system", **fields}
    return RequestEvent.objects.create(request=access_request, created_at=at(minutes), **values)


@pytest.fixture
def trail(access_request):
    """Events, decisions and changes interleaved in time, two of them at the same instant."""
    # created and notified: "now", newer than everything below
    created = list(access_request.events.order_by("created_at", "id"))
    return {
        "d1": log(1),
        "c1": change(2),
        "e1": event(access_request, 3),
        "d2": log(4, user_ref="ana@example.com", decision="deny", reason_code="no_policy"),
        "e2": event(access_request, 5, kind="escalated", actor_name="Dana Levi", channel="web"),
        "c2": change(5, actor_name="Ben Admin", object_type="api_key", object_id="3"),
        "created": created,
    }


def label(obj) -> str:
    kind = {DecisionLog: "decision", AuditEntry: "change", RequestEvent: "request"}[type(obj)]
    return f"{kind}:{obj.pk}"


# --- who may open the page ------------------------------------------------------------------------


def test_admin_sees_the_merged_trail(admin_client, trail):
    response = admin_client.get(URL)
    assert response.status_code == 200
    thead = re.search(r"<thead.*?</thead>", html(response), re.S).group(0)
    assert [
        re.sub(r"<[^>]+>|\s+", " ", c).strip() for c in re.findall(r"<th.*?</th>", thead, re.S)
    ] == COLUMNS


@pytest.mark.parametrize("persona_client", ["approver", "outsider"], indirect=True)
@pytest.mark.parametrize("url", [URL, CSV_URL, URL + "?format=csv"])
def test_page_and_export_are_forbidden_to_approvers_and_outsiders(persona_client, db, url):
    assert persona_client.get(url).status_code == 403


@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_anonymous_goes_to_login(client, db, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# --- merging --------------------------------------------------------------------------------------


def test_the_three_sources_are_merged_newest_first(admin_client, trail):
    created = [label(e) for e in reversed(trail["created"])]
    # c2 and e2 share an instant: changes come before request events, then by id.
    expected = [*created, *(label(trail[k]) for k in ("c2", "e2", "d2", "e1", "c1", "d1"))]
    assert rows(admin_client.get(URL)) == expected


def test_each_source_reads_as_who_what_object_change(admin_client, trail, access_request):
    body = html(admin_client.get(URL))
    d2 = re.search(
        rf'<tr data-kind="decision" data-pk="{trail["d2"].pk}".*?</tr>', body, re.S
    ).group(0)
    assert "ana@example.com" in d2 and '<span class="badge action-deny">Decided Deny</span>' in d2
    assert "github: github_repos_list" in d2 and "no_policy · key gateway-prod" in d2
    c1 = re.search(rf'<tr data-kind="change" data-pk="{trail["c1"].pk}".*?</tr>', body, re.S).group(
        0
    )
    assert "Ana Admin" in c1 and '<a href="/policies/7/">Calendar for Sales</a>' in c1
    diff = '<del title="allow">allow</del> → <ins title="deny">deny</ins>'
    assert f'<span class="diff-key">action</span> {diff}' in c1
    created = trail["created"][0]
    row = re.search(rf'<tr data-kind="request" data-pk="{created.pk}".*?</tr>', body, re.S).group(0)
    assert f'href="/requests/{access_request.public_id}/"' in row
    assert "Ana Lopez → Google Calendar (google-calendar_events_create +1)" in row
    assert '<ins title="pending">pending</ins>' in row


def test_a_decision_shows_the_status_move_and_the_response_time(admin_client, access_request):
    actor = Actor(name="Dana Levi", channel="sms", response_ms=3_400)
    request_approve(access_request=access_request, actor=actor)
    body = html(admin_client.get(URL, {"kind": "request"}))
    approved = access_request.events.get(kind="approved")
    row = re.search(rf'data-pk="{approved.pk}".*?</tr>', body, re.S).group(0)
    assert "Dana Levi" in row and ">sms</span>" in row
    assert '<del title="pending">pending</del> → <ins title="approved">approved</ins>' in row
    assert "decided 3.4 s after opening" in row


# --- filters --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "decision"}, ["d2", "d1"]),
        ({"kind": "change"}, ["c2", "c1"]),
        ({"kind": "request", "until": "2026-03-05"}, ["e2", "e1"]),
        ({"actor": "ben"}, ["c2", "d1"]),
        ({"actor": "dana"}, ["e2"]),
        ({"object_type": "api_key"}, ["c2"]),
        ({"object_type": "policy", "object_id": "7"}, ["c1"]),
        ({"object_id": "3"}, ["c2"]),
        ({"since": "2026-03-05", "until": "2026-03-05"}, ["c2", "e2", "d2", "e1", "c1", "d1"]),
        ({"since": "2026-03-06", "until": "2026-03-06"}, []),
        ({"tab": "changes"}, ["c2", "c1"]),
        ({"tab": "decisions"}, ["d2", "d1"]),
    ],
)
def test_each_filter_narrows_the_trail(admin_client, trail, params, expected):
    response = admin_client.get(URL, params)
    assert rows(response) == [label(trail[k]) for k in expected], params
    assert notices(response) == []


def test_object_filter_by_request_shows_its_whole_history(admin_client, trail, access_request):
    response = admin_client.get(
        URL, {"object_type": "request", "object_id": str(access_request.public_id)}
    )
    created = [label(e) for e in reversed(trail["created"])]
    assert rows(response) == [*created, label(trail["e2"]), label(trail["e1"])]
    other = admin_client.get(URL, {"object_id": "6f1c1f8e-0000-4000-8000-000000000000"})
    assert rows(other) == []


def test_filters_live_in_the_url_and_the_form(admin_client, trail):
    body = html(admin_client.get(URL, {"actor": "Ben", "kind": "change", "since": "2026-03-01"}))
    assert 'name="actor" value="Ben"' in body
    assert '<option value="change" selected>' in body
    assert 'name="since" value="2026-03-01"' in body
    assert 'href="/activity/export.csv?actor=Ben&amp;kind=change&amp;since=2026-03-01"' in body


# --- bad input, pages, htmx -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "notice"),
    [
        ({"kind": "spaceship"}, "Kind “spaceship”: Select a valid choice."),
        ({"object_type": "spaceship"}, "Object “spaceship”: Select a valid choice."),
        ({"object_id": "x" * 65}, "Object id “"),
        ({"actor": "x" * 201}, "Who “"),
        ({"since": "2026-13-45"}, "From “2026-13-45”: Enter a valid date."),
        ({"until": "yesterday"}, "To “yesterday”: Enter a valid date."),
        (
            {"since": "2026-03-05", "until": "2026-03-01"},
            "To “2026-03-01”: This date is before the From date.",
        ),
    ],
)
def test_bad_filter_values_show_a_notice_and_no_rows(admin_client, trail, params, notice):
    response = admin_client.get(URL, params)
    assert response.status_code == 200
    assert any(text.startswith(notice) for text in notices(response)), notices(response)
    assert rows(response) == []
    export = admin_client.get(CSV_URL, params)
    assert export.status_code == 400 and notice in export.content.decode()


@pytest.mark.parametrize(
    ("params", "notice"),
    [
        ({"after": "abc"}, "Ignored page position “abc”: showing the newest first."),
        ({"after": "1.9.1"}, "Ignored page position “1.9.1”: showing the newest first."),
        ({"after": "9" * 30 + ".1.1"}, "Ignored page position"),
        ({"per_page": "7"}, "Ignored per page “7”."),
        ({"per_page": "-25"}, "Ignored per page “-25”."),
        ({"per_page": "²5"}, "Ignored per page “²5”."),
        ({"after": "1.².1"}, "Ignored page position “1.².1”"),
        ({"after": "١٢.1.1"}, "Ignored page position"),
    ],
)
def test_bad_page_values_are_ignored_with_a_notice(admin_client, trail, params, notice):
    response = admin_client.get(URL, params)
    assert response.status_code == 200
    assert any(text.startswith(notice) for text in notices(response)), notices(response)
    assert len(rows(response)) == 8


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
@pytest.mark.parametrize("field", ["since", "until"])
def test_extreme_dates_never_fail(admin_client, trail, field, day):
    assert admin_client.get(URL, {field: day}).status_code == 200
    assert admin_client.get(CSV_URL, {field: day}).status_code == 200


def test_pages_follow_each_other_without_gaps_or_repeats(admin_client, trail):
    everything = rows(admin_client.get(URL))
    seen, params = [], {"per_page": "25"}
    cursor = None
    while True:
        entries, more = trail_page(TrailFilter(), cursor, 3)
        seen += [f"{e.source}:{e.record.pk}" for e in entries]
        if not more:
            break
        cursor = entries[-1].cursor
    assert seen == everything
    # The Older link carries the cursor of the last row shown.
    log_rows = [log(-10 - i) for i in range(30)]
    first = admin_client.get(URL, params)
    older = re.search(r'rel="next" href="\?([^"]+)"', html(first)).group(1).replace("&amp;", "&")
    second = admin_client.get(f"{URL}?{older}")
    assert len(rows(first)) == 25 and rows(second) == [label(e) for e in log_rows[-13:]]
    assert 'rel="next"' not in html(second) and ">Newest</a>" in html(second)


@pytest.mark.parametrize("micro", [0, 1, 123_457, 999_999])
def test_cursor_round_trips_to_the_microsecond(micro):
    cursor = Cursor(at(0.5).replace(microsecond=micro), 2, 42)
    assert Cursor.decode(cursor.encode()) == cursor


def test_rows_sharing_a_microsecond_are_neither_skipped_nor_repeated(db):
    instant = at(0).replace(microsecond=123_457)
    made = [log(0, created_at=instant) for _ in range(5)] + [change(0, created_at=instant)]
    seen, cursor = [], None
    while True:
        entries, more = trail_page(TrailFilter(), cursor, 2)
        seen += [(e.source, e.record.pk) for e in entries]
        if not more:
            break
        cursor = Cursor.decode(entries[-1].cursor.encode())
    assert len(seen) == len(set(seen)) == len(made)


def test_htmx_request_gets_the_table_alone(admin_client, trail):
    body = html(admin_client.get(URL, **HTMX_TABLE))
    assert body.lstrip().startswith('<div id="activity-table"') and "<html" not in body


def test_revoking_a_key_shows_up_as_a_change(admin_client, admin_user):
    issued = api_key_create(name="gw-2", actor=admin_user)
    api_key_revoke(api_key=issued.api_key, actor=admin_user)
    response = admin_client.get(URL, {"object_type": "api_key"})
    assert len(rows(response)) == 2
    assert "Revoked" in html(response) and '<span class="diff-key">revoked</span>' in html(response)


def test_an_object_named_after_its_kind_is_named_once(admin_client, db):
    call_command("load_connector_catalog", "--only", "slack", stdout=io.StringIO())
    response = admin_client.get(URL, {"kind": "change"})
    texts = [
        re.sub(r"<[^>]+>|\s+", " ", row)
        for row in re.findall(r'<tr data-kind="change".*?</tr>', html(response), re.S)
    ]
    [text] = [text for text in texts if "Connector catalog" in text]
    assert text.count("Connector catalog") == 1, text


def test_a_request_resolved_by_a_new_policy_says_the_policy_approved_it(
    admin_client, admin_user, access_request
):
    data = PolicyData(
        name="Calendar for Ana",
        connector=access_request.connector,
        action=Policy.Action.ALLOW,
        all_users=True,
    )
    request_resolve_with_policy(
        access_request=access_request, data=data, actor=Actor.for_user(admin_user)
    )
    body = html(admin_client.get(URL, {"object_id": str(access_request.public_id)}))
    rows = re.findall(r'<tr data-kind="request".*?</tr>', body, re.S)
    [row] = [row for row in rows if '<ins title="approved">' in row]
    assert "Approved by the new policy “Calendar for Ana”" in row
    assert "Approved once" not in row and "““" not in row and "””" not in row


# --- CSV ------------------------------------------------------------------------------------------


def test_csv_exports_the_filtered_trail(admin_client, trail):
    response = admin_client.get(CSV_URL, {"since": "2026-03-05", "until": "2026-03-05"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"].startswith('attachment; filename="agenwork-activity-')
    header, *lines = csv_rows(response)
    assert header == [
        "time",
        "kind",
        "who",
        "channel",
        "what",
        "object_type",
        "object_id",
        "object",
        "change",
        "detail",
    ]
    assert [line[1] for line in lines] == [
        "change",
        "request",
        "decision",
        "request",
        "change",
        "decision",
    ]
    c1 = lines[4]
    assert c1 == [
        "2026-03-05T12:02:00+00:00",
        "change",
        "Ana Admin",
        "web",
        "Updated",
        "policy",
        "7",
        "Calendar for Sales",
        "action: allow → deny",
        "",
    ]
    d2 = lines[2]
    assert d2[2:8] == [
        "ana@example.com",
        "api",
        "Decided Deny",
        "connector",
        "github",
        "github: github_repos_list",
    ]


def test_csv_takes_the_same_filters_as_the_page(admin_client, trail):
    assert len(csv_rows(admin_client.get(URL, {"format": "csv", "kind": "decision"}))) == 3
    assert len(csv_rows(admin_client.get(CSV_URL, {"actor": "dana"}))) == 2


def test_csv_streams_every_row_in_batches(admin_client, db, monkeypatch):
    import dashboard.views_activity as views

    for i in range(7):
        log(i)
    real = views.trail_iter
    monkeypatch.setattr(views, "trail_iter", lambda wanted: real(wanted, batch=2))
    lines = csv_rows(admin_client.get(CSV_URL))[1:]
    assert [line[0][11:16] for line in lines] == [f"12:0{i}" for i in range(6, -1, -1)]


# What OWASP's CSV injection guidance names, and the ways around a first-character check: leading
# whitespace of any kind, the pipe, and fullwidth or small forms that spreadsheets read as ASCII.
FORMULAS = [
    '=HYPERLINK("http://x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "|calc",
    "\t=1+1",
    "\tplain after a tab",
    "\r=1+1",
    "\rplain after a carriage return",
    " =1+1",
    "   @SUM(A1)",
    "\n=1+1",
    "\u00a0=1+1",  # no-break space
    "\u3000=1+1",  # ideographic space
    "\u2003-1+1",  # em space
    "\uff1d1+1",  # fullwidth equals
    "\uff0b1+1",  # fullwidth plus
    "\uff0d1+1",  # fullwidth hyphen-minus
    "\uff20SUM(A1)",  # fullwidth at
    "\uff5ccalc",  # fullwidth vertical line
    "\ufe661+1",  # small equals
    " \uff1d1+1",
]
# Values that cannot run: never prefixed. Plain numbers stay numbers, so sums still work.
ORDINARY = [
    "ana@example.com",
    "Ben Kim",
    "a=b",
    "x|y",
    "-5",
    "+3.5",
    " -12 ",
    "42",
    "",
    "\u2014",  # the em dash of a missing value
    "'=already text",
    "\u2212" + "1+1",  # the minus sign is not the hyphen-minus a spreadsheet reads
]


@pytest.mark.parametrize("value", FORMULAS, ids=ascii)
def test_csv_cells_that_would_run_as_a_formula_are_prefixed(admin_client, db, value):
    log(0, user_ref=value)

    line = csv_rows(admin_client.get(CSV_URL))[1]

    assert line[2] == "'" + value


@pytest.mark.parametrize("value", ORDINARY, ids=ascii)
def test_csv_cells_that_cannot_run_are_exported_as_they_are(admin_client, db, value):
    log(0, user_ref=value)

    line = csv_rows(admin_client.get(CSV_URL))[1]

    assert line[2] == value


def test_a_leading_nul_is_prefixed_too():
    """PostgreSQL stores no NUL in text, so this one is checked on the cell function itself."""
    assert spreadsheet_safe("\0=1+1") == "'\0=1+1"
    assert spreadsheet_safe("\0") == "'\0"


# --- queries --------------------------------------------------------------------------------------


def _queries(client, params=None) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL, params or {}).status_code == 200
    return [q["sql"] for q in captured.captured_queries]


def test_a_page_runs_one_query_per_source_and_counts_nothing(admin_client, trail, access_request):
    small = _queries(admin_client)
    for i in range(40):
        log(10 + i)
        change(10 + i)
        event(access_request, 10 + i)
    large = _queries(admin_client)
    # session, user with the sidebar's person, and one LIMITed query per source
    assert len(small) == len(large) == 5
    tables = ("requests_app_requestevent", "policies_decisionlog", "audit_auditentry")
    trail_sql = [
        sql
        for sql in large
        if f'FROM "{tables[0]}"' in sql or any(f'FROM "{t}"' in sql for t in tables[1:])
    ]
    assert len(trail_sql) == 3
    for sql in trail_sql:
        assert "LIMIT 26" in sql and "ORDER BY" in sql and "COUNT(" not in sql.upper()


def test_changed_fields_and_diff():
    assert changed_fields({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == [
        ("b", 2, 3),
        ("c", MISSING, 4),
    ]
    assert changed_fields({"a": 1}, None) == [("a", 1, MISSING)]
    assert "No field changed" in render_diff({"a": 1}, {"a": 1})
    out = render_diff({"html": "<b>x</b>", "flag": True}, {"html": "<i>y</i>", "flag": False})
    assert "&lt;b&gt;x&lt;/b&gt;" in out and "<b>" not in out and ">yes</del> → <ins" in out
