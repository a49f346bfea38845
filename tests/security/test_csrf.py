"""CSRF on every form: a POST without a token is refused with 403 and changes nothing.

- Every URL of the resolver is POSTed by an admin's browser session with CSRF checks on.
- Exempt by design, and only these: the gateway API (Bearer key), SCIM (its own Bearer token)
  and Twilio's callbacks (signature). They are listed here, so a new exempt view must be
  argued for in this file.
"""

from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponseForbidden
from django.test import Client
from django.utils.crypto import get_random_string

from tests.security.url_table import ROUTES, concrete_url, discovered_routes
from tests.security.world import changed_tables, db_fingerprint

pytestmark = pytest.mark.django_db

EXEMPT_BY_DESIGN = {
    "api/v1/decisions",
    "api/v1/requests/<str:public_id>",
    "api/v1/requests/<str:public_id>/consume",
    "api/v1/requests/<str:public_id>/cancel",
    "api/v1/^(?P<path>.*)$",
    "scim/v2/ServiceProviderConfig",
    "scim/v2/ResourceTypes",
    "scim/v2/ResourceTypes/<str:name>",
    "scim/v2/Schemas",
    "scim/v2/Schemas/<str:urn>",
    "scim/v2/.search",
    "scim/v2/Users",
    "scim/v2/Users/.search",
    "scim/v2/Users/<str:pk>",
    "scim/v2/Groups",
    "scim/v2/Groups/.search",
    "scim/v2/Groups/<str:pk>",
    "scim/v2/^(?P<path>.*)$",
    "webhooks/twilio/status",
    "webhooks/twilio/sms",
    "oauth/token/",
    "oauth/revoke/",
    "oauth/register",
    "oauth/register/<str:client_id>/",
}
REFUSED_MARK = "X-Test-Csrf-Refused"


def csrf_refused(request: HttpRequest, reason: str = "") -> HttpResponseForbidden:
    """CSRF_FAILURE_VIEW for these tests: a 403 that says it came from the CSRF check."""
    response = HttpResponseForbidden(f"CSRF verification failed: {reason}")
    response[REFUSED_MARK] = reason or "refused"
    return response


@pytest.fixture
def csrf_admin(settings, admin_user) -> Client:
    settings.CSRF_FAILURE_VIEW = "tests.security.test_csrf.csrf_refused"
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    return client


def test_the_exempt_routes_exist():
    assert set(discovered_routes()) >= EXEMPT_BY_DESIGN


def test_the_exempt_routes_are_exactly_those_authenticated_otherwise():
    otherwise = {route for route, entry in ROUTES.items() if entry.csrf_exempt}
    assert otherwise == EXEMPT_BY_DESIGN


@pytest.mark.parametrize("route", sorted(discovered_routes()), ids=lambda r: f"POST /{r}")
def test_a_post_without_a_token_is_refused_and_changes_nothing(csrf_admin, world, route):
    url = concrete_url(route, world)
    before = db_fingerprint()

    response = csrf_admin.post(url, {"decision": "approve", "name": "x", "webhook_url": ""})

    if route in EXEMPT_BY_DESIGN:
        assert REFUSED_MARK not in response, (
            f"{url} is exempt by design: Bearer key, SCIM token or signature"
        )
    else:
        assert response.status_code == 403, (
            f"POST {url} without a CSRF token was not refused. If it is authenticated by a token "
            "or a signature, list it in EXEMPT_BY_DESIGN here and set csrf_exempt=True in "
            "tests/security/url_table.py."
        )
        assert REFUSED_MARK in response, f"POST {url} was refused, but not by the CSRF check"
    # OAuth's protocol endpoints answer a request they cannot parse with RFC 6749's 400
    refusals = {401, 403, 404, 405} | ({400} if route.startswith("oauth/") else set())
    assert response.status_code in refusals
    assert changed_tables(before, db_fingerprint()) == []


@pytest.mark.parametrize(
    "route",
    sorted(r for r, e in ROUTES.items() if e.acts and not e.csrf_exempt),
    ids=lambda r: f"POST /{r}",
)
def test_the_same_post_with_a_token_passes_the_check(csrf_admin, world, route):
    """The refusal above is the CSRF check's: with a token the same POST reaches the view."""
    secret = get_random_string(32)
    csrf_admin.cookies["csrftoken"] = secret
    url = concrete_url(route, world)

    response = csrf_admin.post(
        url, {}, HTTP_X_CSRFTOKEN=secret, HTTP_REFERER=f"http://testserver{url}"
    )

    assert REFUSED_MARK not in response, response.get(REFUSED_MARK)


def test_an_unknown_api_url_answers_a_post_with_the_json_404(settings, db):
    """A gateway that POSTs to a mistyped URL is told so in the API's shape, not by a CSRF page."""
    settings.CSRF_FAILURE_VIEW = "tests.security.test_csrf.csrf_refused"

    response = Client(enforce_csrf_checks=True).post("/api/v1/decision", "{}", "application/json")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
