"""What every console list shares (agenwork.lists): the partial test, paging notices, Tools cell."""

from __future__ import annotations

import re

import pytest
from django.test import RequestFactory
from django_htmx.middleware import HtmxDetails

from agenwork.lists import partial_template, swaps_part, tool_cell
from tests.factories import ConnectorFactory, PolicyFactory, ToolFactory, make_request

HOSTILE = "<script>alert('x')</script> & \"quoted\""


def htmx_get(**headers: str):
    """A GET as the HtmxMiddleware leaves it: `request.htmx` read from the headers."""
    request = RequestFactory().get("/policies/", headers=headers)
    request.htmx = HtmxDetails(request)
    return request


def notices(response) -> list[str]:
    return re.findall(
        r'<div class="alert alert-warning[^"]* notice" role="alert">([^<]*)</div>',
        response.content.decode(),
    )


# --- which template a request gets ----------------------------------------------------------

HX = {"HX-Request": "true"}


@pytest.mark.parametrize(
    ("headers", "target", "partial"),
    [
        ({}, "", False),
        (HX, "", True),
        ({**HX, "HX-Boosted": "true"}, "", False),
        ({**HX, "HX-History-Restore-Request": "true"}, "", False),
        ({}, "policies-table", False),
        ({**HX, "HX-Target": "policies-table"}, "policies-table", True),
        ({**HX, "HX-Target": "policies-table", "HX-Boosted": "true"}, "policies-table", True),
        ({**HX, "HX-Target": "panel"}, "policies-table", False),
        ({**HX}, "policies-table", False),
        (
            {**HX, "HX-Target": "policies-table", "HX-History-Restore-Request": "true"},
            "policies-table",
            False,
        ),
    ],
)
def test_a_partial_is_what_htmx_swaps_into_a_page_and_nothing_else(headers, target, partial):
    request = htmx_get(**headers)
    assert swaps_part(request, target=target) is partial
    expected = "policies/policy_list.html#table" if partial else "policies/policy_list.html"
    assert partial_template(request, "policies/policy_list.html", "table", target=target) == (
        expected
    )


# --- the Tools cell -------------------------------------------------------------------------


def test_tool_cell_shows_the_verb_apart_from_the_connectors_prefix():
    assert tool_cell("github_repos_list", [], prefix="github_") == (
        '<span class="tools-cell"><code class="tool-key" title="github_repos_list">'
        '<span class="tool-prefix">github_</span><span>repos_list</span></code></span>'
    )


def test_tool_cell_names_the_other_tools_in_its_badge():
    cell = tool_cell("github_repos_list", ["github_issues_create", "github_repos_delete"])
    assert '<code class="tool-key" title="github_repos_list">github_repos_list</code>' in cell
    assert (
        ' <span class="badge text-bg-light border tools-more" '
        'title="github_issues_create, github_repos_delete">+2</span></span>'
    ) in cell


@pytest.mark.parametrize("key", ["github_", "gitlab_repos_list", "github"])
def test_tool_cell_shows_a_key_without_the_prefix_whole(key):
    cell = tool_cell(key, [], prefix="github_")
    assert "tool-prefix" not in cell
    assert f">{key}</code>" in cell


def test_tool_cell_escapes_every_key():
    cell = tool_cell(f"github_{HOSTILE}", [HOSTILE], prefix="github_")
    assert "<script>" not in cell
    assert (
        cell.count("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted") == 3
    )  # key, verb, badge


@pytest.mark.django_db
def test_policies_and_requests_draw_the_same_tools_cell(admin_client, requester, flow):
    """The Requests rows are built by hand for speed (rows_html); the cell is still the one."""
    connector = ConnectorFactory(slug="github", name="GitHub")
    keys = ["github_issues_create", "github_repos_delete", "github_repos_list"]
    tools = [ToolFactory(connector=connector, key=key) for key in keys]
    PolicyFactory(connector=connector).tools.set(tools)
    make_request(requester=requester, tools=tools, flow=flow)
    cell = tool_cell(keys[0], keys[1:], prefix="github_")
    for url in ("/policies/", "/requests/"):
        body = admin_client.get(url).content.decode()
        assert body.count(cell) == 1, url


# --- paging: one rule and the same notices on every list --------------------------------------


@pytest.fixture
def thirty_policies(connector):
    return [PolicyFactory(name=f"Policy {i:02d}", connector=connector) for i in range(30)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "notice", "first_row"),
    [
        ({"page": "abc"}, "Ignored page “abc”.", "Policy 00"),
        ({"page": "0"}, "Ignored page “0”.", "Policy 00"),
        ({"page": "-1"}, "Ignored page “-1”.", "Policy 00"),
        ({"page": "99"}, "Page 99 is past the end of this list.", "Policy 25"),
        ({"page": "9" * 30}, f"Page {'9' * 30} is past the end of this list.", "Policy 25"),
        ({"per_page": "7"}, "Ignored per page “7”.", "Policy 00"),
    ],
)
def test_an_admin_list_ignores_bad_paging_with_the_requests_notices(
    admin_client, thirty_policies, params, notice, first_row
):
    response = admin_client.get("/policies/", params)
    assert response.status_code == 200
    assert notices(response) == [notice]
    assert f">{first_row}</a>" in response.content.decode()


@pytest.mark.django_db
def test_a_page_past_the_end_of_a_list_that_never_counts_shows_the_first(
    admin_client, access_request
):
    huge = "9" * 30
    response = admin_client.get("/requests/", {"page": huge})
    assert response.status_code == 200
    assert notices(response) == [f"Page {huge} is past the end of this list."]
    assert f'data-request="{access_request.public_id}"' in response.content.decode()
