"""Cache-Control: no browser or proxy keeps a private answer; public things stay cacheable.

- Every URL of tests/security/url_table.py, GET and POST, for every console role: each answer
  (the 200s, and the redirects, 403s, 404s and 405s too) is `no-store`, unless the URL is public
  (checked by test_authorization.py's walk of the table, which makes those very requests).
- The gateway API and SCIM with a valid credential and without one: their 401s, 404s, 405s, 400s
  and 413s are `no-store` like their 200s.
- Public: the OpenAPI document, its docs page and /favicon.ico may be kept (and set no cookie);
  static files keep WhiteNoise's long cache; /healthz is never cached.
"""

from __future__ import annotations

import pytest
from django.templatetags.static import static
from django.test import Client

from tests.security.url_table import CACHEABLE, ROUTES, concrete_url, discovered_routes

pytestmark = pytest.mark.django_db

PUBLIC = CACHEABLE


def directives(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


def assert_private(response, context: str) -> None:
    assert "no-store" in directives(response), f"{context}: Cache-Control {directives(response)}"


def test_public_routes_are_routes():
    assert set(discovered_routes()) >= set(PUBLIC)


@pytest.mark.parametrize(("route", "max_age"), sorted(PUBLIC.items()))
def test_public_answers_may_be_kept_and_set_no_cookie(admin_client, route, max_age):
    for client in (Client(), admin_client):
        response = client.get("/" + route)
        assert response.status_code < 400
        assert directives(response) == {"public", f"max-age={max_age}"}
        assert not response.cookies


def _with_credential(route: str, world) -> dict[str, str]:
    entry = ROUTES[route]
    if entry.with_valid_key:
        return {"HTTP_AUTHORIZATION": f"Bearer {world.issued.raw_key}"}
    return {"HTTP_AUTHORIZATION": f"Bearer {world.scim.raw_token}"}


@pytest.mark.parametrize(
    "route",
    sorted(r for r, e in ROUTES.items() if e.with_valid_key or e.with_scim_token),
)
def test_api_and_scim_answers_and_errors_are_no_store(world, route):
    url = concrete_url(route, world)
    credentials = {"none": {}, "wrong": {"HTTP_AUTHORIZATION": "Bearer wrong"}}
    credentials["valid"] = _with_credential(route, world)
    seen = set()
    for name, extra in credentials.items():
        for method in ("GET", "POST", "PUT", "DELETE"):
            response = Client().generic(method, url, b"{not json", "application/json", **extra)
            seen.add(response.status_code)
            assert_private(response, f"{method} {url} with {name} credential")
    assert any(status >= 400 for status in seen), seen


@pytest.mark.parametrize(
    ("body", "status"), [(b"{not json", 400), (b'{"user": "' + b"x" * 70_000 + b'"}', 413)]
)
def test_api_rejections_of_a_body_are_no_store(world, body, status):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {world.issued.raw_key}"}
    response = Client().post("/api/v1/decisions", body, "application/json", **auth)

    assert response.status_code == status
    assert directives(response) == {"no-store"}


def test_static_files_keep_their_long_cache(client, settings):
    response = client.get(static("css/app.css"))

    assert response.status_code == 200
    assert "no-store" not in directives(response)
    assert {"public", "immutable"} <= directives(response), directives(response)


def test_healthz_is_never_cached(client, world):
    response = client.get("/healthz")

    assert {"no-store", "no-cache"} <= directives(response)
