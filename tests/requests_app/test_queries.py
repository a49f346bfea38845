"""The Requests page and the review panel run a fixed, small number of queries."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from requests_app.services import Actor, request_approve
from tests.factories import ConnectorFactory, PersonFactory, ToolFactory, make_request

LIST = "/requests/"
HTMX_TABLE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "requests-table"}
HTMX_PANEL = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "panel"}
MAX_QUERIES = 8
MAX_PANEL_QUERIES = 9  # the panel also lists the request's notifications
# session, user with person (sidebar), key page, rows by key, capped count, connector choices
LIST_QUERIES = {"admin": 6, "approver": 7}  # the approver adds: their flows
# session, user with person, request, its groups, its tools, its events, its notifications
PANEL_QUERIES = {"admin": 7, "approver": 8}  # the approver adds: their flows


@pytest.fixture
def many_pending(flow):
    """101 pending requests over several people, connectors and tool counts."""
    connectors = [ConnectorFactory(slug=slug) for slug in ("github", "slack", "jira", "notion")]
    tools = {
        c.pk: [ToolFactory(connector=c, key=f"{c.slug}_t{i}") for i in range(3)] for c in connectors
    }
    people = [PersonFactory() for _ in range(7)]
    for i in range(101):
        connector = connectors[i % len(connectors)]
        make_request(
            requester=people[i % len(people)],
            tools=tools[connector.pk][: 1 + i % 3],
            flow=flow,
            note=f"note {i}",
        )


def capture(client, url: str, params=None, **headers) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {}, **headers)
    assert response.status_code == 200
    return [query["sql"] for query in ctx.captured_queries]


def rows_on_page(client, params) -> int:
    body = client.get(LIST, params).content.decode()
    return len(re.findall(r"<tr data-request=", body))


def describe(queries: list[str]) -> str:
    return "\n".join(f"{n}. {sql[:300]}" for n, sql in enumerate(queries, 1))


# --- the Requests page ----------------------------------------------------------------------------


@pytest.mark.parametrize("persona_client", ["admin", "approver"], indirect=True)
def test_list_runs_as_many_queries_for_100_rows_as_for_25(persona_client, many_pending):
    assert rows_on_page(persona_client, {}) == 25
    assert rows_on_page(persona_client, {"per_page": "100"}) == 100
    small = capture(persona_client, LIST)
    large = capture(persona_client, LIST, {"per_page": "100"})
    assert len(small) == len(large), describe(large)


@pytest.mark.parametrize(
    ("persona_client", "expected"), LIST_QUERIES.items(), indirect=["persona_client"]
)
def test_list_query_count_is_fixed_and_small(persona_client, many_pending, expected):
    for params in ({}, {"per_page": "100"}, {"page": "2"}, {"sort": "name"}, {"status": "all"}):
        queries = capture(persona_client, LIST, params)
        assert len(queries) == expected, describe(queries)
        assert len(queries) <= MAX_QUERIES


@pytest.mark.parametrize(
    ("persona_client", "expected"), LIST_QUERIES.items(), indirect=["persona_client"]
)
def test_list_htmx_partial_runs_no_more_queries(persona_client, many_pending, expected):
    queries = capture(persona_client, LIST, {"per_page": "100"}, **HTMX_TABLE)
    assert len(queries) <= expected, describe(queries)


@pytest.mark.parametrize("persona_client", ["admin", "approver"], indirect=True)
def test_list_only_counts_with_a_cap(persona_client, many_pending):
    queries = capture(persona_client, LIST, {"per_page": "100"})
    counts = [sql for sql in queries if "COUNT(" in sql.upper()]
    assert len(counts) == 1, describe(queries)
    assert all("LIMIT" in sql.upper() for sql in counts), describe(counts)


@pytest.mark.parametrize("persona_client", ["admin", "approver"], indirect=True)
def test_list_never_reads_request_tools_or_people(persona_client, many_pending):
    """The "+N" badge names the other tools from the request's own row (`tool_keys`)."""
    queries = capture(persona_client, LIST, {"per_page": "100"})
    assert not [sql for sql in queries if "requests_app_requesttool" in sql], describe(queries)
    assert not [sql for sql in queries if "requests_app_requestevent" in sql], describe(queries)


def test_list_shows_more_than_a_hundred_as_a_total(admin_client, many_pending):
    assert "101 requests" in admin_client.get(LIST).content.decode()


# --- the review panel -----------------------------------------------------------------------------


@pytest.fixture
def one_and_twenty(requester, connector, flow):
    tools = [
        ToolFactory(connector=connector, key=f"google-calendar_tool_{i:02}") for i in range(20)
    ]
    one = make_request(requester=requester, tools=tools[:1], flow=flow, arguments={"a": 1})
    twenty = make_request(requester=requester, tools=tools, flow=flow, arguments={"a": 1})
    return one, twenty


@pytest.mark.parametrize(
    ("persona_client", "expected"), PANEL_QUERIES.items(), indirect=["persona_client"]
)
def test_panel_runs_as_many_queries_for_20_tools_as_for_1(persona_client, one_and_twenty, expected):
    one, twenty = one_and_twenty
    few = capture(persona_client, f"/requests/{one.public_id}/", **HTMX_PANEL)
    many = capture(persona_client, f"/requests/{twenty.public_id}/", **HTMX_PANEL)
    assert len(few) == len(many), describe(many)
    assert len(many) == expected, describe(many)
    assert len(many) <= MAX_PANEL_QUERIES


@pytest.mark.parametrize(
    ("persona_client", "expected"), PANEL_QUERIES.items(), indirect=["persona_client"]
)
def test_panel_full_page_runs_no_more_queries_than_the_partial(
    persona_client, one_and_twenty, expected
):
    _, twenty = one_and_twenty
    queries = capture(persona_client, f"/requests/{twenty.public_id}/")
    assert len(queries) == expected, describe(queries)


@pytest.mark.parametrize(
    ("persona_client", "expected"), PANEL_QUERIES.items(), indirect=["persona_client"]
)
def test_panel_of_a_long_history_runs_the_same_queries(
    persona_client, one_and_twenty, approver_user, expected
):
    _, twenty = one_and_twenty
    request_approve(access_request=twenty, actor=Actor.for_user(approver_user))
    queries = capture(persona_client, f"/requests/{twenty.public_id}/", **HTMX_PANEL)
    assert len(queries) == expected, describe(queries)
