"""The approver link in Chromium: opening it (as scanners do) changes nothing; Approve decides."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from approval_flows.models import Notification
from requests_app.links import link_create
from requests_app.models import AccessRequest, ApproverLink, RequestTool
from tests.factories import GroupFactory, make_request

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
SCREENS = pytest.mark.parametrize("screen", [LAPTOP, PHONE], ids=["1280x800", "390x844"])


@pytest.fixture
def token(approver_user, access_request) -> str:
    return link_create(access_request=access_request, person=approver_user.person, channel="email")


def snapshot(access_request: AccessRequest) -> tuple:
    return (
        AccessRequest.objects.filter(pk=access_request.pk).values().get(),
        sorted(RequestTool.objects.filter(request=access_request).values_list("id", "status")),
        list(access_request.events.values_list("id", flat=True)),
        sorted(ApproverLink.objects.values_list("id", "used_at")),
        Notification.objects.count(),
    )


def test_opening_the_link_like_a_mail_scanner_changes_nothing(
    page, access_request, token, problems
):
    before = snapshot(access_request)
    for _ in range(2):
        page.goto(f"/a/{token}/")
        heading = page.get_by_role("heading", name="Approve Ana Lopez\u2019s request?")
        expect(heading).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_be_visible()
    expect(page.get_by_text("google-calendar_events_create")).to_be_visible()
    page.goto(f"/a/{token}/?utm_source=scanner")
    assert snapshot(access_request) == before
    assert problems.errors == []


def test_clicking_approve_decides_once(page, access_request, token, problems):
    page.goto(f"/a/{token}/")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", name="Approved")).to_be_visible()
    expect(page.get_by_text("Approved by Dana Levi via Email")).to_be_visible()
    access_request.refresh_from_db()
    assert (access_request.status, access_request.decided_via) == ("approved", "email")
    page.goto(f"/a/{token}/")
    expect(page.get_by_role("heading", name="This link was already used")).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    # Chromium logs the 410 (Gone) of the spent link's page; nothing else may go wrong.
    assert [error for error in problems.errors if "status of 410" not in error] == []


def test_clicking_deny_denies_with_the_comment(page, access_request, token):
    page.goto(f"/a/{token}/")
    page.get_by_text("More options").click()
    page.get_by_label("Comment").fill("Not this quarter")
    page.get_by_role("button", name="Deny").click()
    expect(page.get_by_role("heading", name="Denied")).to_be_visible()
    access_request.refresh_from_db()
    assert (access_request.status, access_request.comment) == ("denied", "Not this quarter")


def test_the_page_fits_a_phone_with_big_buttons(page, access_request, token, problems):
    page.set_viewport_size(PHONE)
    page.goto(f"/a/{token}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for name in ("Approve", "Deny"):
        box = page.get_by_role("button", name=name).bounding_box()
        assert box["height"] >= 44 and box["width"] >= 140, (name, box)
    assert problems.errors == []


def test_a_bad_link_shows_a_friendly_page(page, access_request):
    response = page.goto("/a/not-a-real-link/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="This link is not valid")).to_be_visible()


@pytest.fixture
def busy_request(requester, tools, flow):
    """A request with a long note and many arguments: taller than a phone's screen."""
    requester.groups.add(GroupFactory(name="EMEA field team"))
    return make_request(
        requester=requester,
        tools=tools[:2],
        flow=flow,
        agent="Claude",
        note="Book the quarterly review with ACME's finance team. " * 6,
        arguments={
            "calendarId": "primary",
            "summary": "QBR with ACME",
            "attendees": [{"email": f"person{i}@acme.example"} for i in range(6)],
            "description": "Agenda: " + "figures, " * 40 + "next steps",
            **{f"option_{i}": i for i in range(10)},
        },
    )


@pytest.fixture
def busy_token(approver_user, busy_request) -> str:
    return link_create(access_request=busy_request, person=approver_user.person, channel="email")


@SCREENS
def test_groups_and_arguments_are_visible(page, busy_token, problems, screen):
    page.set_viewport_size(screen)
    page.goto(f"/a/{busy_token}/")
    expect(page.get_by_text("EMEA field team")).to_be_visible()
    expect(page.get_by_text("Sales", exact=True)).to_be_visible()
    expect(page.locator("dt", has_text="calendarId")).to_be_visible()
    expect(page.get_by_text("primary", exact=True)).to_be_visible()
    attendees = page.locator("dd", has=page.locator("details.arg")).first
    expect(attendees.locator("pre")).to_be_hidden()
    attendees.get_by_text("Show all").click()
    expect(attendees.locator("pre")).to_contain_text('"email": "person5@acme.example"')
    expect(page.get_by_text("QBR with ACME")).to_be_hidden()
    page.get_by_text("6 more arguments").click()
    expect(page.get_by_text("QBR with ACME")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= screen["width"]
    assert problems.errors == []


def test_on_a_phone_approve_is_on_screen_at_first_and_one_tap_approves(
    page, busy_request, busy_token, problems
):
    page.set_viewport_size(PHONE)
    page.goto(f"/a/{busy_token}/")
    assert page.evaluate("document.documentElement.scrollHeight") > 1.5 * PHONE["height"]
    approve = page.get_by_role("button", name="Approve")
    box = approve.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box
    assert page.evaluate("window.scrollY") == 0
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

    expect(page.get_by_role("heading", name="Approved")).to_be_visible()
    expect(page.get_by_text("Approved for this call only:")).to_be_visible()
    busy_request.refresh_from_db()
    assert (busy_request.status, busy_request.grant_expires_at) == ("approved", None)
    assert set(busy_request.tools.values_list("status", flat=True)) == {"approved"}
    assert problems.errors == []


@SCREENS
def test_one_of_two_tools_for_8_hours(page, access_request, token, tools, problems, screen):
    page.set_viewport_size(screen)
    page.goto(f"/a/{token}/")
    page.get_by_label("google-calendar_events_update").uncheck()
    page.get_by_text("More options").click()
    page.get_by_label("For 8 hours").check()
    page.get_by_role("button", name="Approve").click()

    expect(page.get_by_role("heading", name="Approved")).to_be_visible()
    scope = page.locator("[data-scope]")
    expect(scope).to_contain_text("Approved for 8 h, until ")
    expect(scope).to_contain_text(": google-calendar_events_create. Denied: ")
    expect(page.locator('[data-tool-status="denied"]')).to_have_count(1)
    access_request.refresh_from_db()
    assert access_request.status == "approved"
    assert access_request.grant_expires_at - access_request.decided_at == timedelta(hours=8)
    statuses = dict(access_request.tools.values_list("tool__key", "status"))
    assert statuses == {tools[0].key: "approved", tools[1].key: "denied"}
    assert problems.errors == []


def test_approving_with_every_tool_unticked_is_refused_and_says_so(
    page, access_request, token, problems
):
    page.goto(f"/a/{token}/")
    page.get_by_label("google-calendar_events_create").uncheck()
    page.get_by_label("google-calendar_events_update").uncheck()
    page.get_by_role("button", name="Approve").click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Choose at least one tool to approve, or deny the request.")
    expect(page.get_by_role("button", name="Deny")).to_be_visible()
    access_request.refresh_from_db()
    assert access_request.status == "pending"
    # Chromium logs the page's own 400 (Bad Request); nothing else may go wrong.
    assert [error for error in problems.errors if "status of 400" not in error] == []
