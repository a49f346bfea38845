"""Authorization matrix: every URL of the resolver, for every console role, by GET and POST.

- Expectations live in tests/security/url_table.py; a URL pattern missing there fails the run.
- A refusal (login redirect, 401, 403, 404, 405) and every GET change nothing in the database.
- The gateway API is tested with no key, a wrong key, a revoked key, a SCIM token and a valid one.
- SCIM is tested with no token, a wrong token, a revoked token, a gateway API key, an admin's
  session and a valid token: only the valid SCIM token gets past its 401.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import include, path

from tests.security.url_table import (
    CACHEABLE,
    MISSING_HELP,
    ROUTES,
    Redirect,
    concrete_url,
    discovered_routes,
    unclassified_routes,
)
from tests.security.world import ROLES, changed_tables, db_fingerprint

pytestmark = pytest.mark.django_db

REFUSALS = {401, 403, 404, 405}


def test_every_url_pattern_has_an_entry_in_the_table():
    missing = unclassified_routes()
    assert not missing, MISSING_HELP.format(routes=", ".join(repr(r) for r in missing))


def test_a_new_nested_pattern_is_discovered_and_reported_until_classified():
    """The guard above can fail: a page added under an include is found and named."""
    new = [path("connectors/", include([path("<int:pk>/edit/", lambda r, pk: None)]))]
    routes = list(discovered_routes(new))

    assert routes == ["connectors/<int:pk>/edit/"]
    assert unclassified_routes(routes) == routes
    assert "connectors/<int:pk>/edit/" in MISSING_HELP.format(routes=repr(routes[0]))


def test_the_table_names_no_url_that_is_gone():
    stale = set(ROUTES) - set(discovered_routes())
    assert not stale, f"tests/security/url_table.py ROUTES names removed URLs: {sorted(stale)}"


def _cases() -> list:
    cases = []
    for route in discovered_routes():
        for method in ("GET", "POST"):
            for role in ROLES:
                label = f"{method} /{route} as {role}"
                cases.append(pytest.param(route, method, role, id=label))
    return cases


def assert_answer(response, expected, context: str) -> None:
    if isinstance(expected, Redirect):
        assert response.status_code == 302, f"{context}: {response.status_code}"
        assert response["Location"].startswith(expected.to), f"{context}: {response['Location']}"
    else:
        assert response.status_code == expected, (
            f"{context}: expected {expected}, got {response.status_code}"
        )


def is_refusal(expected) -> bool:
    return isinstance(expected, Redirect) or expected in REFUSALS


@pytest.mark.parametrize(("route", "method", "role"), _cases())
def test_each_role_gets_what_the_table_says(request, world, route, method, role):
    entry = ROUTES.get(route)
    assert entry is not None, MISSING_HELP.format(routes=repr(route))
    client = Client()
    if role != "anonymous":
        client.force_login(request.getfixturevalue(f"{role}_user"))
    expected = (entry.get if method == "GET" else entry.post)[role]
    url = concrete_url(route, world)
    before = db_fingerprint()

    response = client.generic(method, url)

    assert_answer(response, expected, f"{method} {url} as {role}")
    if route not in CACHEABLE:  # no browser or proxy keeps a private answer, errors included
        assert "no-store" in response.get("Cache-Control", ""), f"{method} {url} as {role}"
    if method == "GET" or is_refusal(expected) or not entry.acts:
        assert changed_tables(before, db_fingerprint()) == [], f"{method} {url} changed rows"


# --- the gateway API: the Bearer key ------------------------------------------------------------

KEYS = {
    "no key": lambda w: None,
    "another scheme": lambda w: f"Token {w.issued.raw_key}",
    "a wrong prefix": lambda w: "Bearer " + _swap(w.issued.raw_key, "_", 1),
    "the right prefix and a wrong secret": lambda w: "Bearer " + _swap(w.issued.raw_key, "", -1),
    "a revoked key": lambda w: f"Bearer {w.revoked.raw_key}",
    "a SCIM token": lambda w: f"Bearer {w.scim.raw_token}",
    "a valid key": lambda w: f"Bearer {w.issued.raw_key}",
}


def _swap(raw_key: str, separator: str, at: int) -> str:
    """The key with one character changed: in the prefix (after `separator`) or at `at`."""
    index = raw_key.index(separator) + 1 if separator else len(raw_key) + at
    flipped = "A" if raw_key[index] != "A" else "B"
    return raw_key[:index] + flipped + raw_key[index + 1 :]


def _key_cases() -> list:
    return [
        pytest.param(route, method, key, id=f"{method} /{route} with {key}")
        for route, entry in ROUTES.items()
        if entry.with_valid_key
        for method in ("GET", "POST")
        for key in KEYS
    ]


@pytest.mark.parametrize(("route", "method", "key"), _key_cases())
def test_the_api_answers_only_a_valid_bearer_key(world, route, method, key):
    entry = ROUTES[route]
    header = KEYS[key](world)
    if key == "a valid key" or entry.with_valid_key[method] in {404, 405}:
        expected = entry.with_valid_key[method]  # a wrong method or URL is told before the key
    else:
        expected = 401
    url = concrete_url(route, world)
    before = db_fingerprint()

    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = Client().generic(method, url, content_type="application/json", **extra)

    assert response.status_code == expected, response.content
    assert response["Content-Type"] == "application/json"
    if expected == 401:
        assert response.json()["error"]["code"] == "unauthorized"
        assert response["WWW-Authenticate"].startswith("Bearer")
    if expected >= 400:
        assert changed_tables(before, db_fingerprint()) == []


# --- SCIM: its own Bearer token -----------------------------------------------------------------

SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_TOKENS = {
    "no token": lambda w: None,
    "another scheme": lambda w: f"Token {w.scim.raw_token}",
    "a wrong secret": lambda w: "Bearer " + _swap(w.scim.raw_token, "", -1),
    "a revoked token": lambda w: f"Bearer {w.revoked_scim.raw_token}",
    "a gateway API key": lambda w: f"Bearer {w.issued.raw_key}",
    "an admin's session": lambda w: None,
    "a valid token": lambda w: f"Bearer {w.scim.raw_token}",
}


def _scim_cases() -> list:
    return [
        pytest.param(route, method, token, id=f"{method} /{route} with {token}")
        for route, entry in ROUTES.items()
        if entry.with_scim_token
        for method in ("GET", "POST")
        for token in SCIM_TOKENS
    ]


@pytest.mark.parametrize(("route", "method", "token"), _scim_cases())
def test_scim_answers_only_a_valid_scim_token(world, admin_user, route, method, token):
    entry = ROUTES[route]
    expected = entry.with_scim_token[method] if token == "a valid token" else 401
    header = SCIM_TOKENS[token](world)
    client = Client()
    if token == "an admin's session":
        client.force_login(admin_user)
    url = concrete_url(route, world)
    before = db_fingerprint()

    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.generic(method, url, content_type="application/scim+json", **extra)

    assert response.status_code == expected, response.content
    assert response["Content-Type"] == "application/scim+json"
    if expected == 401:
        assert response.json()["schemas"] == [SCIM_ERROR]
        assert response.json()["status"] == "401"
        assert response["WWW-Authenticate"].startswith("Bearer")
    if method == "GET" or expected >= 400:
        assert changed_tables(before, db_fingerprint()) == []
