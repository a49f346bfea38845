"""The approver link in Chromium: opening it (as scanners do) changes nothing; Approve decides."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from approval_flows.models import Notification
from requests_app.links import link_create
from requests_app.models import AccessRequest, ApproverLink, RequestTool

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


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
