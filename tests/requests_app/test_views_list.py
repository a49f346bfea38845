"""The Requests page: columns, default Pending filter, sorting, paging, htmx partial, roles."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.models import Connector
from requests_app.models import AccessRequest, RequestEvent
from requests_app.services import Actor, request_approve, request_deny
from tests.factories import (
    ApprovalFlowFactory,
    ApprovalLevelFactory,
    ConnectorFactory,
    GroupFactory,
    PersonFactory,
    ToolFactory,
    make_request,
)

URL = "/requests/"
HEADER = "Approve user requests for AI agents to access specific connector and tools"
COLUMNS = ("Name", "Identifier", "Connector", "Tools", "Requested", "Note")
HTMX_TABLE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "requests-table"}


def row_ids(response) -> list[str]:
    """The public ids of the table rows, top to bottom."""
    return re.findall(r'<tr data-request="([0-9a-f-]{36})"', response.content.decode())


def html(response) -> str:
    return response.content.decode()


def notices(response) -> list[str]:
    """The warnings shown above the table."""
    return re.findall(
        r'<div class="alert alert-warning[^"]* notice" role="alert">([^<]*)</div>', html(response)
    )


def db_state() -> tuple:
    return (
        sorted(AccessRequest.objects.values_list("pk", "status", "updated_at")),
        RequestEvent.objects.count(),
    )


def make_dated(*, name: str, email: str, connector: Connector, days_ago: float, flow, n_tools=1):
    person = PersonFactory(name=name, email=email)
    tools = [
        ToolFactory(connector=connector, key=f"{connector.slug}_{email.split('@')[0]}_{i}")
        for i in range(n_tools)
    ]
    access_request = make_request(requester=person, tools=tools, flow=flow, note=f"note {name}")
    when = timezone.now() - timedelta(days=days_ago)
    AccessRequest.objects.filter(pk=access_request.pk).update(requested_at=when)
    access_request.refresh_from_db()
    return access_request


@pytest.fixture
def sortable(flow):
    """Three requests whose name, identifier, connector and time orders all differ."""
    slack = ConnectorFactory(slug="slack", name="Slack")
    calendar = ConnectorFactory(slug="google-calendar", name="Google Calendar")
    github = ConnectorFactory(slug="github", name="GitHub")
    a = make_dated(name="Amy A", email="carol@example.com", connector=slack, days_ago=3, flow=flow)
    b = make_dated(
        name="Bob B", email="alice@example.com", connector=calendar, days_ago=1, flow=flow
    )
    c = make_dated(name="Cat C", email="bert@example.com", connector=github, days_ago=2, flow=flow)
    return {"a": str(a.public_id), "b": str(b.public_id), "c": str(c.public_id)}


# --- the page and its columns -------------------------------------------------------------


@pytest.mark.parametrize("persona_client", ["admin", "approver"], indirect=True)
def test_list_shows_header_columns_and_the_pending_request(persona_client, access_request):
    response = persona_client.get(URL)
    assert response.status_code == 200
    body = html(response)
    assert "<html" in body
    assert HEADER in body
    headers = re.findall(r"<th[^>]*>\s*(?:<a [^>]*>)?([^<]+?)\s*(?:</a>)?\s*</th>", body)
    assert tuple(headers) == COLUMNS
    assert row_ids(response) == [str(access_request.public_id)]
    assert "Ana Lopez" in body
    assert "ana@example.com" in body
    assert "Google Calendar" in body
    assert "icons/connectors/google-calendar." in body
    assert "Need to book the quarterly review with the customer." in body


def test_list_redirects_anonymous_to_login(client, access_request):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/requests/")


def test_list_forbids_outsider(outsider_client, access_request):
    response = outsider_client.get(URL)
    assert response.status_code == 403
    assert "Ana Lopez" not in html(response)


def test_list_forbids_outsider_htmx_partial_too(outsider_client, access_request):
    response = outsider_client.get(URL, **HTMX_TABLE)
    assert response.status_code == 403
    assert "Ana Lopez" not in html(response)


def test_tools_column_shows_first_tool_and_plus_count_naming_the_others(
    admin_client, requester, tools, flow
):
    make_request(requester=requester, tools=tools, flow=flow)
    body = html(admin_client.get(URL))
    assert (
        '<span class="tool-prefix">google-calendar_</span><span>events_create</span></code>' in body
    )
    badge = re.search(r'<span class="badge[^"]*tools-more" title="([^"]*)">\+2</span>', body)
    assert badge, "the +2 badge is missing"
    # The hidden tools are named on hover, in their order, and are not shown otherwise.
    assert badge.group(1) == "google-calendar_events_update, google-calendar_events_delete"
    assert body.count("google-calendar_events_update") == 1


def test_tools_column_has_no_badge_for_a_single_tool(admin_client, requester, tools, flow):
    make_request(requester=requester, tools=tools[:1], flow=flow)
    body = html(admin_client.get(URL))
    assert (
        '<span class="tool-prefix">google-calendar_</span><span>events_create</span></code>' in body
    )
    assert ">+" not in body


def test_requested_shows_absolute_and_relative_date(admin_client, access_request):
    three_days_ago = timezone.now() - timedelta(days=3, hours=1)
    AccessRequest.objects.filter(pk=access_request.pk).update(requested_at=three_days_ago)
    body = html(admin_client.get(URL))
    absolute = timezone.localtime(three_days_ago).strftime("%d %B %Y")
    assert (
        f'{absolute}</span><span class="when-sep">,</span> '
        '<span class="when-rel">3 days ago</span></time>' in body
    )


# --- the status and connector filters ---------------------------------------------------------


@pytest.fixture
def decided_and_pending(requester, tools, flow):
    pending = make_request(requester=requester, tools=tools[:1], flow=flow)
    decided = make_request(requester=requester, tools=tools[1:2], flow=flow)
    request_approve(access_request=decided, actor=Actor(name="Dana Levi", channel="web"))
    return str(pending.public_id), str(decided.public_id)


@pytest.mark.parametrize("persona_client", ["admin", "approver"], indirect=True)
def test_list_shows_pending_only_by_default(persona_client, decided_and_pending):
    pending, _ = decided_and_pending
    assert row_ids(persona_client.get(URL)) == [pending]


def test_status_filter_shows_decided_requests(admin_client, decided_and_pending):
    pending, decided = decided_and_pending
    assert row_ids(admin_client.get(URL, {"status": "approved"})) == [decided]
    assert row_ids(admin_client.get(URL, {"status": "denied"})) == []
    assert set(row_ids(admin_client.get(URL, {"status": "all"}))) == {pending, decided}


def test_empty_status_means_pending(admin_client, decided_and_pending):
    pending, _ = decided_and_pending
    assert row_ids(admin_client.get(URL, {"status": ""})) == [pending]


def test_connector_filter_narrows_by_slug(admin_client, sortable):
    response = admin_client.get(URL, {"connector": "google-calendar"})
    assert response.status_code == 200
    assert row_ids(response) == [sortable["b"]]
    assert row_ids(admin_client.get(URL, {"connector": "github"})) == [sortable["c"]]
    assert len(row_ids(admin_client.get(URL, {"connector": ""}))) == 3


def test_connector_and_status_filters_combine(admin_client, sortable):
    request_deny(
        access_request=AccessRequest.objects.get(public_id=sortable["c"]),
        actor=Actor(name="Dana Levi", channel="web"),
    )
    assert row_ids(admin_client.get(URL, {"connector": "github"})) == []
    both = {"connector": "github", "status": "denied"}
    assert row_ids(admin_client.get(URL, both)) == [sortable["c"]]


# --- sorting ------------------------------------------------------------------------------------

ORDERS = {
    "name": "abc",
    "-name": "cba",
    "identifier": "bca",
    "-identifier": "acb",
    "connector": "cba",  # GitHub, Google Calendar, Slack
    "-connector": "abc",
    "requested": "acb",
    "-requested": "bca",
}


@pytest.mark.parametrize(("sort", "order"), ORDERS.items())
def test_sort_orders_rows(admin_client, sortable, sort, order):
    response = admin_client.get(URL, {"sort": sort})
    assert response.status_code == 200
    assert row_ids(response) == [sortable[key] for key in order]
    assert notices(response) == []


def test_default_sort_is_newest_first(admin_client, sortable):
    assert row_ids(admin_client.get(URL)) == [sortable[key] for key in "bca"]


def test_sort_headers_link_to_their_sort_and_keep_filters(admin_client, sortable):
    body = html(admin_client.get(URL, {"connector": "github", "sort": "name"}))
    # The active column links to its reverse order; the filter stays in the URL.
    assert re.search(r'href="\?[^"]*sort=-name', body)
    assert re.search(
        r'href="\?[^"]*connector=github[^"]*sort=identifier|'
        r'href="\?[^"]*sort=identifier[^"]*connector=github',
        body,
    )
    assert '<th class="asc c-name orderable"' in body


def test_sort_ties_are_broken_by_id(admin_client, requester, tools, flow):
    made = [make_request(requester=requester, tools=[tool], flow=flow) for tool in tools]
    ids = [str(r.public_id) for r in made]
    assert row_ids(admin_client.get(URL, {"sort": "name"})) == ids
    assert row_ids(admin_client.get(URL, {"sort": "-name"})) == ids[::-1]


# --- pagination ---------------------------------------------------------------------------------


@pytest.fixture
def thirty(requester, tools, flow):
    made = []
    start = timezone.now() - timedelta(days=1)
    for i in range(30):
        r = make_request(requester=requester, tools=[tools[i % 3]], flow=flow, note=f"n{i}")
        AccessRequest.objects.filter(pk=r.pk).update(requested_at=start + timedelta(minutes=i))
        made.append(str(r.public_id))
    return made[::-1]  # newest first, the default sort


def test_first_page_has_25_rows_and_a_next_link(admin_client, thirty):
    response = admin_client.get(URL)
    assert row_ids(response) == thirty[:25]
    body = html(response)
    assert "Page 1 · rows 1\N{EN DASH}25" in body
    assert "30 requests" in body
    next_link = re.search(r'<a class="page-link" rel="next" href="([^"]+)"', body)
    assert next_link, "the first page links to the next one"
    assert "page=2" in next_link.group(1)


def test_second_page_has_the_rest(admin_client, thirty):
    response = admin_client.get(URL, {"page": "2"})
    assert response.status_code == 200
    assert row_ids(response) == thirty[25:]
    body = html(response)
    assert "Page 2 · rows 26\N{EN DASH}30" in body
    prev_link = re.search(r'<a class="page-link" rel="prev" href="([^"]+)"', body)
    assert prev_link and "page=1" in prev_link.group(1)
    assert 'rel="next"' not in body


@pytest.mark.parametrize("per_page", [50, 100])
def test_per_page_shows_more_rows(admin_client, thirty, per_page):
    response = admin_client.get(URL, {"per_page": str(per_page)})
    assert row_ids(response) == thirty
    assert 'rel="next"' not in html(response)
    assert notices(response) == []


def test_page_size_choices_are_links(admin_client, thirty):
    body = html(admin_client.get(URL, {"connector": "google-calendar"}))
    for size in (50, 100):
        link = re.search(rf'<a class="small" href="([^"]+)">{size}</a>', body)
        assert link, f"a link to show {size} rows per page"
        assert f"per_page={size}" in link.group(1)
        assert "connector=google-calendar" in link.group(1)
    assert '<span class="badge text-bg-primary">25</span>' in body


def test_page_links_keep_sort_and_filters(admin_client, thirty):
    body = html(admin_client.get(URL, {"sort": "name", "connector": "google-calendar"}))
    next_link = re.search(r'rel="next" href="([^"]+)"', body).group(1)
    assert "sort=name" in next_link
    assert "connector=google-calendar" in next_link
    assert "page=2" in next_link


# --- htmx -----------------------------------------------------------------------------------------


def test_htmx_table_request_returns_only_the_table(admin_client, sortable):
    response = admin_client.get(URL, {"sort": "name"}, **HTMX_TABLE)
    assert response.status_code == 200
    body = html(response)
    assert "<html" not in body
    assert HEADER not in body
    assert body.lstrip().startswith('<div id="requests-table"')
    assert row_ids(response) == [sortable[key] for key in "abc"]
    # The container reloads itself from the URL it was rendered for.
    assert 'hx-get="/requests/?sort=name"' in body
    assert 'hx-trigger="requests-changed from:body"' in body


def test_htmx_history_restore_returns_the_full_page(admin_client, sortable):
    response = admin_client.get(URL, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in html(response)


def test_htmx_request_for_another_target_returns_the_full_page(admin_client, sortable):
    response = admin_client.get(URL, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="content")
    assert "<html" in html(response)


# --- roles ----------------------------------------------------------------------------------------


@pytest.fixture
def other_flow_request(requester, tools):
    other = ApprovalFlowFactory(name="Finance approvals")
    ApprovalLevelFactory(flow=other, position=1).groups.add(GroupFactory(name="Finance"))
    return make_request(requester=requester, tools=tools[2:], flow=other)


def test_approver_sees_only_requests_of_their_flows(
    approver_client, access_request, other_flow_request
):
    response = approver_client.get(URL)
    assert row_ids(response) == [str(access_request.public_id)]
    assert str(other_flow_request.public_id) not in html(response)
    assert row_ids(approver_client.get(URL, {"status": "all"})) == [str(access_request.public_id)]


def test_admin_sees_every_request(admin_client, access_request, other_flow_request):
    ids = set(row_ids(admin_client.get(URL)))
    assert ids == {str(access_request.public_id), str(other_flow_request.public_id)}


def test_approver_total_counts_only_their_requests(
    approver_client, access_request, other_flow_request
):
    assert "1 request" in html(approver_client.get(URL))


# --- bad input: 200 with a notice, never a 500, nothing written -----------------------------------

BAD_INPUT = [
    ({"sort": "bogus"}, "Unknown sort “bogus”"),
    ({"sort": "-note"}, "Unknown sort “-note”"),
    ({"connector": "no-such-connector"}, "Unknown connector “no-such-connector”"),
    ({"status": "bogus"}, "Unknown status “bogus”"),
    ({"page": "abc"}, "Ignored page “abc”"),
    ({"page": "0"}, "Ignored page “0”"),
    ({"page": "-1"}, "Ignored page “-1”"),
    ({"page": "99999"}, "Page 99999 is past the end of this list."),
    ({"per_page": "7"}, "Ignored per page “7”"),
    ({"per_page": "100000"}, "Ignored per page “100000”"),
    ({"per_page": "abc"}, "Ignored per page “abc”"),
]


@pytest.mark.parametrize(("params", "notice"), BAD_INPUT)
def test_bad_input_shows_a_notice_and_changes_nothing(admin_client, access_request, params, notice):
    before = db_state()
    response = admin_client.get(URL, params)
    assert response.status_code == 200
    assert len(notices(response)) == 1
    assert notice in notices(response)[0]
    assert db_state() == before


@pytest.mark.parametrize(("params", "notice"), BAD_INPUT)
def test_bad_input_in_htmx_partial_shows_the_notice(admin_client, access_request, params, notice):
    response = admin_client.get(URL, params, **HTMX_TABLE)
    assert response.status_code == 200
    assert notice in notices(response)[0]
    assert "<html" not in html(response)


@pytest.mark.parametrize(
    "params", [{"sort": "bogus"}, {"page": "abc"}, {"page": "99999"}, {"per_page": "7"}]
)
def test_ignored_paging_and_sort_fall_back_to_the_defaults(admin_client, sortable, params):
    assert row_ids(admin_client.get(URL, params)) == [sortable[key] for key in "bca"]


@pytest.mark.parametrize(
    ("params", "shown"),
    [({"connector": "no-such-connector"}, "All connectors"), ({"status": "zzz"}, "Pending")],
)
def test_unknown_filter_value_is_dropped_and_the_default_shown(
    admin_client, sortable, params, shown
):
    """A bad value in a shared URL shows the default list and says so, not an empty list."""
    response = admin_client.get(URL, params)
    assert row_ids(response) == [sortable[key] for key in "bca"]
    assert notices(response)[0].endswith(f"showing {shown}.")
    name = next(iter(params))
    # The filter shows what the list shows: the default, not the refused value.
    assert re.search(
        rf'<select name="{name}"[^>]*>.*?<option value="[^"]*" selected>{shown}',
        html(response),
        re.S,
    )


def test_notice_escapes_what_the_url_carried(admin_client, access_request):
    body = html(admin_client.get(URL, {"sort": "<script>alert(1)</script>"}))
    assert "<script>alert(1)" not in body
    assert "&lt;script&gt;" in body


def test_post_to_the_list_is_not_allowed(admin_client, access_request):
    before = db_state()
    response = admin_client.post(URL, {"status": "approved"})
    assert response.status_code == 405
    assert db_state() == before
