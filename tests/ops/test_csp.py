"""The Content-Security-Policy header, and pages that need no inline script or style under it."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from requests_app.links import link_create
from tests.factories import PolicyFactory

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
EVENT_ATTRIBUTE = re.compile(r"<[^>]+\s(on[a-z]+|hx-on[:\w-]*)\s*=", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)


def directives(header: str) -> dict[str, str]:
    parts = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


def assert_no_inline_code(html: str) -> None:
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.search(html).group(0)
    assert not EVENT_ATTRIBUTE.search(html), EVENT_ATTRIBUTE.search(html).group(0)
    assert not INLINE_STYLE.search(html), INLINE_STYLE.search(html).group(0)


def test_policy_allows_only_our_own_scripts_and_styles(admin_client):
    policy = directives(admin_client.get("/").headers["Content-Security-Policy"])

    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in " ".join(policy.values())
    assert "unsafe-eval" not in " ".join(policy.values())


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/requests/",
        "/requests/?status=all",
        "/policies/",
        "/policies/new/",
        "/policies/simulate/",
        "/approval-flows/",
        "/approval-flows/new/",
        "/activity/",
        "/settings/api-keys/",
        "/connectors/",
        "/users/",
        "/api/v1/docs/",
    ],
)
def test_console_pages_have_no_inline_script_or_style(admin_client, access_request, path):
    PolicyFactory(connector=access_request.connector)  # a row with its menu in each list
    response = admin_client.get(path)

    assert response.status_code == 200
    assert "Content-Security-Policy" in response.headers
    assert_no_inline_code(response.content.decode())


def test_request_panel_has_no_inline_script_or_style(admin_client, access_request):
    page = admin_client.get(f"/requests/{access_request.public_id}/")
    partial = admin_client.get(f"/requests/{access_request.public_id}/", HTTP_HX_REQUEST="true")

    assert_no_inline_code(page.content.decode())
    assert_no_inline_code(partial.content.decode())


def test_htmx_does_not_inject_its_indicator_style(admin_client):
    html = admin_client.get("/").content.decode()

    assert '"includeIndicatorStyles": false' in html


def test_login_and_approver_link_pages_have_no_inline_script_or_style(
    client: Client, access_request, approver_user
):
    token = link_create(access_request=access_request, person=approver_user.person, channel="email")

    for path in ("/accounts/login/", f"/a/{token}/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert_no_inline_code(response.content.decode())
