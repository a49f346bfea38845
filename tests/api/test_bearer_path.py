"""Bearer calls (the API, SCIM) leave the middleware stack before the console's own parts."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.api.conftest import Gateway

pytestmark = pytest.mark.django_db


def test_a_decision_carries_every_header_an_answer_needs(gateway: Gateway) -> None:
    response = gateway.decide("nobody@example.com", "github", ["github_repos_list"])

    assert response.status_code == 422  # no such connector here: the view answered
    assert response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in response
    assert response["Content-Length"] == str(len(response.content))
    assert response["X-Request-ID"]


def test_a_decision_touches_no_session_cookie_or_csrf(gateway: Gateway) -> None:
    response = gateway.decide("nobody@example.com", "github", ["github_repos_list"])

    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")
    assert not hasattr(response.wsgi_request, "session")
    assert not hasattr(response.wsgi_request, "user")


def test_errors_of_bearer_endpoints_are_answered_past_the_console_stack() -> None:
    response = Client().post("/api/v1/decisions", "{}", content_type="application/json")

    assert response.status_code == 401
    assert not hasattr(response.wsgi_request, "session")


def test_the_api_docs_page_goes_through_the_whole_stack() -> None:
    response = Client().get("/api/v1/docs/")

    assert response.status_code == 200
    assert hasattr(response.wsgi_request, "session")
    assert response["X-Frame-Options"] == "DENY"


def test_console_pages_go_through_the_whole_stack(admin_client: Client) -> None:
    response = admin_client.get("/requests/")

    assert response.status_code == 200
    assert response.wsgi_request.user.is_staff


def test_scim_calls_are_answered_past_the_console_stack() -> None:
    response = Client().get("/scim/v2/Users")

    assert response.status_code == 401
    assert response["Cache-Control"] == "no-store"
    assert not hasattr(response.wsgi_request, "session")
