"""SCIM authentication, token isolation from the gateway API, discovery, errors, methods."""

from __future__ import annotations

import json
from io import StringIO

from django.core.management import call_command
from django.db import OperationalError
from django.test import Client

from directory.models import Person, ScimToken
from directory.scim import selectors
from directory.scim import views as scim_views
from directory.services import scim_token_create
from gateways.services import api_key_create
from tests.directory.conftest import Scim
from tests.directory.test_scim_users import OKTA_CREATE, assert_scim_error


def test_requests_without_a_valid_token_are_401_in_scim_format(db):
    client = Client()
    response = client.get("/scim/v2/Users")
    assert_scim_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/scim/v2/Users", HTTP_AUTHORIZATION="Bearer scim_abcdefghij_wrong")
    assert_scim_error(wrong, 401)


def test_gateway_api_keys_do_not_work_on_scim(db):
    key = api_key_create(name="gateway").raw_key
    response = Scim(key).post("Users", OKTA_CREATE)
    assert_scim_error(response, 401)
    assert not Person.objects.exists()


def test_scim_tokens_do_not_work_on_the_gateway_api(db):
    token = scim_token_create(name="entra").raw_token
    response = Client().post(
        "/api/v1/decisions",
        data=json.dumps({"user": "a@example.com", "connector": "x", "tools": ["y"]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 401


def test_a_revoked_token_is_refused(scim, db):
    ScimToken.objects.update(revoked_at="2026-01-01T00:00:00Z")
    assert_scim_error(scim.get("Users"), 401)


def test_create_scim_token_prints_the_token_once_on_the_last_line(db):
    out, err = StringIO(), StringIO()
    call_command("create_scim_token", "okta", stdout=out, stderr=err)
    raw = out.getvalue().strip().splitlines()[-1]
    token = ScimToken.objects.get()
    assert raw.startswith(f"scim_{token.prefix}_")
    assert raw not in token.token_hash and raw not in err.getvalue()
    assert Scim(raw).get("Users").status_code == 200


def test_create_scim_token_dry_run_stores_nothing(db):
    out = StringIO()
    call_command("create_scim_token", "okta", "--dry-run", stdout=out, stderr=StringIO())
    assert "nothing was stored" in out.getvalue()
    assert not ScimToken.objects.exists()


def test_discovery_documents(scim):
    config = scim.get("ServiceProviderConfig")
    assert config.status_code == 200
    assert config["Content-Type"] == "application/scim+json"
    assert config.json()["patch"] == {"supported": True}
    types = scim.get("ResourceTypes").json()
    assert {r["id"] for r in types["Resources"]} == {"User", "Group"}
    assert scim.get("ResourceTypes/User").json()["endpoint"] == "/Users"
    schemas = scim.get("Schemas").json()
    assert {s["name"] for s in schemas["Resources"]} == {"User", "Group"}
    urn = "urn:ietf:params:scim:schemas:core:2.0:User"
    assert scim.get(f"Schemas/{urn}").json()["id"] == urn


def test_wrong_method_is_405_in_scim_format(scim):
    response = scim.delete("Users")
    assert_scim_error(response, 405)
    assert "POST" in response["Allow"]


def test_scim_is_csrf_exempt_but_needs_the_token(db):
    client = Client(enforce_csrf_checks=True)
    token = scim_token_create(name="okta").raw_token
    response = client.post(
        "/scim/v2/Users",
        data=json.dumps(OKTA_CREATE),
        content_type="application/scim+json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 201


def test_a_wrong_method_without_a_token_is_401_not_405(db):
    response = Client().delete("/scim/v2/Users")

    assert_scim_error(response, 401)
    assert "Allow" not in response


def test_a_database_outage_is_a_503_in_scim_format_with_retry_after(scim, monkeypatch):
    def database_down(*args, **kwargs):
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed')

    monkeypatch.setattr(selectors, "users_page", database_down)

    response = scim.get("Users")

    body = assert_scim_error(response, 503)
    assert "retry" in body["detail"]
    assert response["Retry-After"] == "5"


def test_a_crash_in_a_view_is_a_500_in_scim_format_and_stores_nothing(scim, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(scim_views, "scim_user_save", crash)

    response = scim.post("Users", OKTA_CREATE)

    assert_scim_error(response, 500)
    assert not Person.objects.exists()
