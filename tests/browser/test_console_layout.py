"""What a person sees at 1280 x 800 and on a 390 x 844 phone: lists fit, decisions stay in reach.

The data is crowded on purpose: long names, emails, notes and tool keys, many tools, long
arguments, decided requests, an API key with a long webhook address.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from gateways.services import api_key_create
from requests_app.models import AccessRequest, RequestEvent
from requests_app.services import Actor, request_approve, request_deny
from tests.factories import ConnectorFactory, PersonFactory, ToolFactory, make_request

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
LIST_PAGES = (
    "/",
    "/requests/",
    "/requests/?status=all",
    "/policies/",
    "/approval-flows/",
    "/connectors/",
    "/users/",
    "/users/groups/",
    "/activity/",
    "/settings/api-keys/",
)
ROWS = "#requests-table tbody tr[data-request]"
LONG_NOTE = (
    "Book the quarterly business review with the whole ACME buying committee and move the "
    "internal preparation meeting so that the deck is reviewed by legal before Thursday noon."
)

# Elements that scroll sideways although they should not, and the page itself.
OVERFLOW = """() => {
  const found = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth) found.push(`page ${doc.scrollWidth}px wide`);
  document.querySelectorAll('main, main .card, main .table-container, #panel').forEach((el) => {
    if (el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1) {
      found.push(`${el.tagName}.${el.className} ${el.scrollWidth} > ${el.clientWidth}`);
    }
  });
  return found;
}"""


@pytest.fixture
def crowded(flow, security_group, approver_user, admin_user):
    """Requests, decisions, audit lines and a key with the longest values people type."""
    calendar = ConnectorFactory(slug="google-calendar", name="Google Calendar")
    workspace = ConnectorFactory(slug="microsoft-sharepoint", name="Microsoft SharePoint Online")
    made = []
    for i in range(6):
        connector = calendar if i % 2 else workspace
        person = PersonFactory(
            name=f"Maximiliana Alexandra Vandenberghe-Ortiz {i}",
            email=f"maximiliana.vandenberghe-ortiz.{i}@subsidiary.example.com",
        )
        tools = [
            ToolFactory(connector=connector, key=f"{connector.slug}_site_documents_upload_{i}_{n}")
            for n in range(1 + i % 4)
        ]
        made.append(
            make_request(
                requester=person,
                tools=tools,
                flow=flow,
                note=LONG_NOTE,
                agent="Claude Desktop 0.12.129 (macOS 15.2, arm64)",
                arguments={f"field_{n}": "x" * 120 for n in range(30)},
            )
        )
    request_approve(access_request=made[0], actor=Actor.for_user(approver_user))
    request_deny(access_request=made[1], actor=Actor.for_user(admin_user), comment="Not today.")
    api_key_create(
        name="gateway-" + "long-name-" * 4,
        webhook_url="https://hooks.example.com/" + "agenwork-decisions/" * 6,
    )
    return made


def overflow(page) -> list[str]:
    return page.evaluate(OVERFLOW)


@pytest.mark.parametrize("size", VIEWPORTS)
def test_no_list_page_scrolls_sideways(page, enter_as, crowded, problems, size):
    page.set_viewport_size(VIEWPORTS[size])
    enter_as("admin")
    found = {}
    for path in LIST_PAGES:
        response = page.goto(path)
        assert response.status == 200, path
        expect(page.locator("h1")).to_be_visible()
        if overflow(page) or problems.errors:
            found[path] = overflow(page) + problems.errors
        problems.errors.clear()
    assert found == {}


def test_the_six_request_columns_fit_at_1280_with_the_panel_closed(page, enter_as, crowded):
    page.set_viewport_size(DESKTOP)
    enter_as("admin")
    page.goto("/requests/")
    headers = page.locator("#requests-table thead th")
    visible = [h.strip() for h in headers.all_inner_texts() if h.strip()]
    assert visible == ["NAME", "IDENTIFIER", "CONNECTOR", "TOOLS", "REQUESTED", "NOTE"]
    right = page.evaluate(
        "document.querySelector('#requests-table .table-container').getBoundingClientRect().right"
    )
    for box in (h.bounding_box() for h in headers.all()):
        assert box and box["x"] + box["width"] <= right + 1
    # A cut value is whole on hover; the +N badge names the hidden tools.
    note = page.locator(f"{ROWS} td.c-note").first
    assert note.get_attribute("title") == LONG_NOTE
    badge = page.locator(f"{ROWS} .tools-more").first
    assert re.fullmatch(r"[a-z0-9_-]+(, [a-z0-9_-]+)*", badge.get_attribute("title"))


def test_all_statuses_show_who_decided(page, enter_as, crowded):
    page.set_viewport_size(DESKTOP)
    enter_as("admin")
    page.goto("/requests/?status=all")
    approved = page.locator(f'tr[data-request="{crowded[0].public_id}"] td.c-status')
    expect(approved.locator(".badge")).to_have_text("Approved")
    expect(approved).to_contain_text("by Dana Levi")
    denied = page.locator(f'tr[data-request="{crowded[1].public_id}"] td.c-status')
    expect(denied.locator(".badge")).to_have_text("Denied")
    pending = page.locator(f'tr[data-request="{crowded[2].public_id}"] td.c-status')
    expect(pending.locator(".badge")).to_have_text("Pending")
    assert overflow(page) == []


def test_with_the_panel_open_the_table_keeps_name_tools_and_time(page, enter_as, crowded):
    page.set_viewport_size(DESKTOP)
    enter_as("admin")
    page.goto("/requests/")
    page.locator(ROWS).first.locator("a.request-link").click()
    expect(page.locator("#panel h2")).to_have_text("Review request")
    for cell in ("c-name", "c-tools", "c-requested"):
        expect(page.locator(f"{ROWS} td.{cell}").first).to_be_visible()
    assert overflow(page) == []


@pytest.mark.parametrize("size", VIEWPORTS)
def test_decision_buttons_stay_in_view_however_long_the_request(page, enter_as, crowded, size):
    viewport = VIEWPORTS[size]
    page.set_viewport_size(viewport)
    enter_as("admin")
    page.goto("/requests/")
    page.locator(f'tr[data-request="{crowded[5].public_id}"] a.request-link').click()
    panel = page.locator("#panel")
    expect(panel).to_contain_text(LONG_NOTE)
    # Thirty long arguments start folded.
    expect(panel.locator("details.arguments-box")).not_to_have_attribute("open", "")
    for name in ("Deny…", "Create policy", "Approve for user"):
        box = panel.get_by_text(name, exact=True).bounding_box()
        assert box, name
        assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], name
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], name
    assert overflow(page) == []


def test_deny_asks_first_and_the_reason_reaches_the_agent(page, enter_as, crowded, problems):
    target = crowded[3]
    page.set_viewport_size(DESKTOP)
    enter_as("admin")
    page.goto("/requests/")
    page.locator(f'tr[data-request="{target.public_id}"] a.request-link').click()
    panel = page.locator("#panel")
    panel.get_by_text("Deny…", exact=True).click()
    expect(panel.get_by_text("Deny this request?")).to_be_visible()
    target.refresh_from_db()
    assert target.status == AccessRequest.Status.PENDING, "one click must not deny"

    panel.get_by_role("link", name="Cancel").click()
    expect(panel.get_by_role("button", name="Approve for user")).to_be_visible()
    panel.get_by_text("Deny…", exact=True).click()
    reason = panel.locator(".deny-confirm textarea[name=comment]")
    expect(reason).to_be_focused()
    reason.fill("Use the shared calendar instead.")
    panel.get_by_role("button", name="Deny request").click()
    expect(panel.locator(".decision-summary")).to_contain_text("Denied by admin via Web")
    target.refresh_from_db()
    assert target.status == AccessRequest.Status.DENIED
    assert target.comment == "Use the shared calendar instead."
    assert problems.errors == []


@pytest.mark.parametrize("size", VIEWPORTS)
def test_bulk_approve_three_rows(page, enter_as, crowded, problems, size):
    page.set_viewport_size(VIEWPORTS[size])
    enter_as("admin")
    page.goto("/requests/")
    chosen = crowded[2:5]
    for request in chosen:
        page.locator(f'tr[data-request="{request.public_id}"] input[name=ids]').check()
    expect(page.locator("[data-bulk-count]")).to_have_text("3 selected")
    page.get_by_role("button", name="Approve…").click()

    panel = page.locator("#panel")
    expect(panel.locator("[data-bulk-confirm] li")).to_have_count(3)
    assert all(
        r.status == "pending" for r in AccessRequest.objects.filter(pk__in=[r.pk for r in chosen])
    )
    panel.get_by_role("button", name="Approve 3 requests").click()

    expect(panel.locator("[data-bulk-outcome]")).to_contain_text("Approved 3 requests.")
    for request in chosen:
        expect(page.locator(f'tr[data-request="{request.public_id}"]')).to_have_count(0)
        request.refresh_from_db()
        assert request.status == AccessRequest.Status.APPROVED
        assert RequestEvent.objects.filter(request=request, kind="approved").count() == 1
    expect(page.locator(ROWS)).to_have_count(1)
    assert problems.errors == []


def test_select_all_on_the_page_ticks_every_row(page, enter_as, crowded):
    page.set_viewport_size(DESKTOP)
    enter_as("admin")
    page.goto("/requests/")
    page.locator("[data-select-all]").check()
    expect(page.locator("[data-bulk-count]")).to_have_text("4 selected")
    page.get_by_role("button", name="Deny…").click()
    panel = page.locator("#panel")
    expect(panel.locator("[data-bulk-confirm] li")).to_have_count(4)
    expect(panel.get_by_text("Reason (optional, returned to each agent)")).to_be_visible()


def test_the_phone_menu_opens_and_closes_without_script(page, enter_as, crowded):
    page.set_viewport_size(PHONE)
    enter_as("admin")
    page.goto("/requests/")
    nav = page.locator(".sidebar-menu")
    expect(nav).to_be_hidden()
    page.locator("label.menu-button").click()
    expect(nav.get_by_role("link", name="Policies")).to_be_visible()
    nav.get_by_role("link", name="Policies").click()
    expect(page.locator("h1")).to_have_text("Policies")
