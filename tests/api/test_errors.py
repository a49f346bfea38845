"""Every error the API answers, in the one shape {"error": {"code", "message", "details"?}}.

Each rejected call is checked to store nothing: the row counts of requests, their tools and
events, decision logs and webhook deliveries are the same before and after.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.db import OperationalError
from django.test import Client
from django.utils import timezone

from api import views
from gateways.services import IssuedKey, api_key_revoke
from requests_app.models import AccessRequest
from requests_app.services import Actor, request_approve, request_deny
from tests.api.conftest import (
    ANA,
    CALENDAR,
    CREATE,
    DECISIONS_URL,
    LIST,
    Gateway,
    assert_error,
    row_counts,
)

pytestmark = pytest.mark.django_db

VALID = {"user": ANA, "connector": CALENDAR, "tools": [CREATE]}
DANA = Actor(name="Dana Levi", channel="web")


def with_(**changes: Any) -> dict[str, Any]:
    """The valid body (which would create a request) with some fields changed or removed."""
    body = dict(VALID)
    for name, value in changes.items():
        if value is _MISSING:
            body.pop(name, None)
        else:
            body[name] = value
    return body


_MISSING = object()


@pytest.fixture
def pending(demo, gateway: Gateway) -> AccessRequest:
    """A pending request of Ana's, created through the API by `gateway`."""
    response = gateway.decide(ANA, CALENDAR, [CREATE])
    return AccessRequest.objects.get(public_id=response.json()["request"]["id"])


def rejected(call: Callable[[], Any], status: int, code: str) -> dict[str, Any]:
    """Make the call, check the error shape, and check that it stored nothing."""
    before = row_counts()
    response = call()
    error = assert_error(response, status, code)
    assert row_counts() == before
    return error


# --- 400 invalid_json --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b'{"user": "ana@example.com",}',
        b"{} trailing",
        b"{'user': 'single quotes'}",
        b'{"user": NaN, "connector": "google-calendar", "tools": ["x"]}',
        b'{"user": "a", "connector": "b", "tools": ["c"], "arguments": {"x": Infinity}}',
        b'{"arguments": {"x": -Infinity}}',
        b"[" * 20_000 + b"]" * 20_000,
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        b"\xff\xfe\xfd",
        b'{"user": "\xc3\x28"}',
    ],
    ids=[
        "empty",
        "truncated",
        "trailing-comma",
        "trailing-garbage",
        "single-quotes",
        "nan",
        "infinity",
        "minus-infinity",
        "deeply-nested-arrays",
        "deeply-nested-objects",
        "not-utf8",
        "invalid-utf8-in-string",
    ],
)
def test_a_body_that_is_not_json_is_invalid_json(demo, gateway: Gateway, raw: bytes):
    error = rejected(lambda: gateway.post(DECISIONS_URL, raw=raw), 400, "invalid_json")

    assert "details" not in error


BASE = (
    b'"user":"ana@example.com","connector":"google-calendar","tools":[' + b'"%s"]' % CREATE.encode()
)
WHO = b'"user":"ana@example.com","connector":"google-calendar"'
# Values that parse but PostgreSQL cannot store: lone surrogates are not UTF-8, 1e400 parses as inf.
UNSTORABLE = {
    "surrogate-in-user": b'{"user":"\\ud800","connector":"google-calendar","tools":["x"]}',
    "surrogate-in-note": b"{" + BASE + b',"note":"\\udfff"}',
    "surrogate-in-agent": b"{" + BASE + b',"agent":"a\\ud83d"}',
    "surrogate-in-argument": b"{" + BASE + b',"arguments":{"a":"\\ud800"}}',
    "surrogate-in-argument-key": b"{" + BASE + b',"arguments":{"\\udc00":1}}',
    "surrogate-in-tool": b"{" + WHO + b',"tools":["\\ud800"]}',
    "surrogate-in-connector": b'{"user":"ana@example.com","connector":"\\ud800","tools":["x"]}',
    "surrogate-in-unknown-field": b"{" + BASE + b',"\\ud800":1}',
    "float-overflow-in-argument": b"{" + BASE + b',"arguments":{"x":1e400}}',
    "negative-overflow-in-argument": b"{" + BASE + b',"arguments":{"x":[-1e999]}}',
    "int-of-5000-digits": b"{" + BASE + b',"arguments":{"x":' + b"9" * 5000 + b"}}",
}


@pytest.mark.parametrize("raw", UNSTORABLE.values(), ids=UNSTORABLE.keys())
def test_json_that_postgresql_cannot_store_is_invalid_json_not_a_crash(
    demo, gateway: Gateway, raw: bytes
):
    rejected(lambda: gateway.post(DECISIONS_URL, raw=raw), 400, "invalid_json")


def test_a_valid_surrogate_pair_is_ordinary_text(demo, gateway: Gateway):
    raw = b"{" + BASE + b',"note":"\\ud83d\\ude00","arguments":{"emoji":"\\ud83d\\ude00"}}'

    response = gateway.post(DECISIONS_URL, raw=raw)

    assert response.status_code == 200, response.content
    created = AccessRequest.objects.get(public_id=response.json()["request"]["id"])
    assert created.note == "\U0001f600"
    assert created.arguments == {"emoji": "\U0001f600"}


def nested_arguments(depth: int) -> bytes:
    """A body whose arguments nest `depth` levels: an object holding depth - 1 arrays."""
    inner = b"[" * (depth - 1) + b"]" * (depth - 1)
    return b"{" + BASE + b',"arguments":{"x":' + inner + b"}}"


def test_arguments_nested_32_levels_are_accepted(demo, gateway: Gateway):
    response = gateway.post(DECISIONS_URL, raw=nested_arguments(32))

    assert response.status_code == 200, response.content


@pytest.mark.parametrize("depth", [33, 100, *range(850, 1000, 10), 5000])
def test_arguments_nested_deeper_are_refused_at_any_depth(demo, gateway: Gateway, depth: int):
    # Around 900 levels the body still parses but no longer encodes for PostgreSQL: once a 500.
    response = gateway.post(DECISIONS_URL, raw=nested_arguments(depth))

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in {"invalid_request", "invalid_json"}
    assert AccessRequest.objects.filter(api_key__isnull=False).count() == 0


def test_deep_arguments_name_the_field(demo, gateway: Gateway):
    raw = nested_arguments(40)

    error = rejected(lambda: gateway.post(DECISIONS_URL, raw=raw), 400, "invalid_request")

    assert set(error["details"]) == {"arguments"}


@pytest.mark.parametrize("body", [[], "text", 1, None, True], ids=repr)
def test_a_json_body_that_is_not_an_object_is_invalid_request(demo, gateway: Gateway, body):
    raw = json.dumps(body)

    rejected(lambda: gateway.post(DECISIONS_URL, raw=raw), 400, "invalid_request")


# --- 400 invalid_request, field by field -------------------------------------------------------

FRESH = "2026-01-01T10:00:00+00:00"
INVALID_FIELDS = {
    "missing-user": (with_(user=_MISSING), {"user"}),
    "missing-connector": (with_(connector=_MISSING), {"connector"}),
    "missing-tools": (with_(tools=_MISSING), {"tools"}),
    "empty-object": ({}, {"user", "connector", "tools"}),
    "null-user": (with_(user=None), {"user"}),
    "user-number": (with_(user=42), {"user"}),
    "user-list": (with_(user=[ANA]), {"user"}),
    "user-blank": (with_(user="   "), {"user"}),
    "user-too-long": (with_(user="a" * 250 + "@x.io"), {"user"}),
    "connector-object": (with_(connector={"slug": CALENDAR}), {"connector"}),
    "connector-empty": (with_(connector=""), {"connector"}),
    "connector-too-long": (with_(connector="c" * 101), {"connector"}),
    "tools-string": (with_(tools=CREATE), {"tools"}),
    "tools-object": (with_(tools={"0": CREATE}), {"tools"}),
    "tools-numbers": (with_(tools=[1, 2]), {"tools"}),
    "tools-empty-key": (with_(tools=[CREATE, ""]), {"tools"}),
    "tools-null-item": (with_(tools=[None]), {"tools"}),
    "tools-empty": (with_(tools=[]), {"tools"}),
    "tools-51": (with_(tools=[f"tool_{i}" for i in range(51)]), {"tools"}),
    "tool-key-too-long": (with_(tools=["t" * 201]), {"tools"}),
    "note-number": (with_(note=5), {"note"}),
    "note-2001-chars": (with_(note="n" * 2001), {"note"}),
    "agent-object": (with_(agent={}), {"agent"}),
    "agent-too-long": (with_(agent="a" * 201), {"agent"}),
    "arguments-list": (with_(arguments=[1, 2]), {"arguments"}),
    "arguments-string": (with_(arguments="{}"), {"arguments"}),
    "arguments-number": (with_(arguments=3), {"arguments"}),
    "arguments-over-16kb": (with_(arguments={"blob": "x" * (16 * 1024)}), {"arguments"}),
    "step-up-string": (with_(step_up=FRESH), {"step_up"}),
    "step-up-empty": (with_(step_up={}), {"step_up"}),
    "step-up-number": (with_(step_up={"authenticated_at": 1700000000}), {"step_up"}),
    "step-up-not-a-time": (with_(step_up={"authenticated_at": "yesterday"}), {"step_up"}),
    "step-up-naive": (with_(step_up={"authenticated_at": "2026-01-01T10:00:00"}), {"step_up"}),
    "step-up-date-only": (with_(step_up={"authenticated_at": "2026-01-01"}), {"step_up"}),
    "step-up-extra-field": (
        with_(step_up={"authenticated_at": FRESH, "method": "webauthn"}),
        {"step_up"},
    ),
    "unknown-field": (with_(tool=CREATE), {"tool"}),
    "two-unknown-fields": (with_(foo=1, bar=2), {"foo", "bar"}),
    "nul-in-user": (with_(user="ana@example.com\x00"), {"user"}),
    "nul-in-connector": (with_(connector="google\x00calendar"), {"connector"}),
    "nul-in-tool": (with_(tools=[CREATE + "\x00"]), {"tools"}),
    "nul-in-note": (with_(note="a\x00b"), {"note"}),
    "nul-in-agent": (with_(agent="\x00"), {"agent"}),
    "nul-in-argument-value": (with_(arguments={"summary": "a\x00b"}), {"arguments"}),
    "nul-in-argument-key": (with_(arguments={"a\x00": 1}), {"arguments"}),
    "many-at-once": (
        with_(user=1, tools=[], note="n" * 2001, arguments=[], extra=True),
        {"user", "tools", "note", "arguments", "extra"},
    ),
}


@pytest.mark.parametrize(("body", "fields"), INVALID_FIELDS.values(), ids=INVALID_FIELDS.keys())
def test_an_invalid_field_is_named_in_the_details(demo, gateway: Gateway, body, fields):
    error = rejected(lambda: gateway.post(DECISIONS_URL, body), 400, "invalid_request")

    assert set(error["details"]) == fields
    assert all(isinstance(message, str) and message for message in error["details"].values())


def test_the_limits_themselves_are_accepted(demo, gateway: Gateway):
    arguments = {"blob": "x" * (16 * 1024 - len('{"blob":""}'))}
    body = with_(
        tools=[CREATE] + [LIST] * 49,
        note="n" * 2000,
        agent="a" * 200,
        arguments=arguments,
        step_up={"authenticated_at": timezone.now().isoformat()},
    )

    response = gateway.post(DECISIONS_URL, body)

    assert response.status_code == 200, response.content
    assert response.json()["decision"] == "approval_required"


def test_the_arguments_limit_counts_encoded_bytes_not_characters(demo, gateway: Gateway):
    # 6,000 three-byte characters: 6,000 characters, 18,000 bytes once encoded.
    body = with_(arguments={"summary": "€" * 6000})

    error = rejected(lambda: gateway.post(DECISIONS_URL, body), 400, "invalid_request")

    assert set(error["details"]) == {"arguments"}


# --- 401 unauthorized --------------------------------------------------------------------------


def post_with(header: str | None, body: Any = VALID) -> Callable[[], Any]:
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    return lambda: Client().post(
        DECISIONS_URL, data=json.dumps(body), content_type="application/json", **extra
    )


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic YWRtaW46YWdlbndvcmstZGVtbw==",
        "Bearer awk_abcdefghij_not-the-key",
        "Bearer not-even-the-format",
    ],
    ids=["no-header", "empty", "bearer-alone", "bearer-space", "basic", "wrong-key", "garbage"],
)
def test_without_a_valid_key_the_call_is_unauthorized(demo, issued: IssuedKey, header):
    error = rejected(post_with(header), 401, "unauthorized")

    assert "details" not in error


def test_unauthorized_answers_carry_www_authenticate(demo, issued: IssuedKey):
    response = post_with(None)()

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_the_right_key_under_another_scheme_is_unauthorized(demo, issued: IssuedKey):
    rejected(post_with(f"Token {issued.raw_key}"), 401, "unauthorized")


def test_a_key_with_one_character_changed_is_unauthorized(demo, issued: IssuedKey):
    last = issued.raw_key[-1]
    tampered = issued.raw_key[:-1] + ("A" if last != "A" else "B")

    rejected(post_with(f"Bearer {tampered}"), 401, "unauthorized")


def test_the_bearer_scheme_is_case_insensitive(demo, issued: IssuedKey):
    response = post_with(f"bearer {issued.raw_key}")()

    assert response.status_code == 200


def test_a_revoked_key_is_unauthorized_at_once(demo, issued: IssuedKey, gateway: Gateway):
    assert gateway.decide(ANA, CALENDAR, [LIST]).status_code == 200
    api_key_revoke(api_key=issued.api_key)

    error = rejected(lambda: gateway.decide(ANA, CALENDAR, [CREATE]), 401, "unauthorized")

    assert "details" not in error


def test_authentication_comes_before_reading_the_body(demo, issued: IssuedKey):
    rejected(post_with(None, body="{not json"), 401, "unauthorized")


@pytest.mark.parametrize("action", ["", "/consume", "/cancel"])
def test_request_endpoints_need_a_key_too(pending: AccessRequest, action: str):
    url = f"/api/v1/requests/{pending.public_id}{action}"
    client = Client()
    call = client.get if action == "" else client.post

    rejected(lambda: call(url), 401, "unauthorized")


# --- 404 not_found -----------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["", "/consume", "/cancel"])
@pytest.mark.parametrize(
    "public_id", [str(uuid4()), "not-a-uuid", "12345", "%00"], ids=["unknown", "bad", "int", "nul"]
)
def test_an_unknown_or_malformed_id_is_not_found(
    demo, gateway: Gateway, public_id: str, action: str
):
    url = f"/api/v1/requests/{public_id}{action}"
    call = gateway.get if action == "" else gateway.post

    rejected(lambda: call(url), 404, "not_found")


@pytest.mark.parametrize("action", ["", "/consume", "/cancel"])
def test_another_keys_request_is_not_found(
    pending: AccessRequest, other_gateway: Gateway, action: str
):
    url = f"/api/v1/requests/{pending.public_id}{action}"
    call = other_gateway.get if action == "" else other_gateway.post

    rejected(lambda: call(url), 404, "not_found")
    pending.refresh_from_db()
    assert pending.status == AccessRequest.Status.PENDING


def test_a_request_made_outside_the_api_is_not_found(demo, gateway: Gateway):
    handwritten = AccessRequest.objects.filter(api_key__isnull=True).first()
    assert handwritten is not None

    rejected(lambda: gateway.status(handwritten.public_id), 404, "not_found")
    rejected(lambda: gateway.cancel(handwritten.public_id), 404, "not_found")


@pytest.mark.parametrize(
    "path",
    ["/api/v1/", "/api/v1/nope", "/api/v1/decisions/", "/api/v1/requests/", "/api/v1/v2/decisions"],
)
def test_an_unknown_url_under_the_api_is_a_json_not_found(demo, gateway: Gateway, path: str):
    rejected(lambda: gateway.get(path), 404, "not_found")
    rejected(lambda: gateway.post(path, VALID), 404, "not_found")
    rejected(lambda: Client().get(path), 404, "not_found")


def test_a_path_below_a_request_is_not_found(pending: AccessRequest, gateway: Gateway):
    rejected(
        lambda: gateway.post(f"/api/v1/requests/{pending.public_id}/approve"), 404, "not_found"
    )


# --- 405 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", DECISIONS_URL, "POST"),
        ("put", DECISIONS_URL, "POST"),
        ("delete", DECISIONS_URL, "POST"),
        ("patch", DECISIONS_URL, "POST"),
        ("post", "/api/v1/requests/{id}", "GET"),
        ("delete", "/api/v1/requests/{id}", "GET"),
        ("get", "/api/v1/requests/{id}/consume", "POST"),
        ("get", "/api/v1/requests/{id}/cancel", "POST"),
    ],
)
def test_a_wrong_method_is_405_with_allow(
    pending: AccessRequest, gateway: Gateway, method: str, path: str, allowed: str
):
    url = path.format(id=pending.public_id)
    call = getattr(gateway.client, method)

    error = rejected(lambda: call(url, **gateway.auth), 405, "method_not_allowed")
    response = call(url, **gateway.auth)

    assert response["Allow"] == allowed
    assert "details" not in error
    pending.refresh_from_db()
    assert pending.status == AccessRequest.Status.PENDING


# --- 409 conflict ------------------------------------------------------------------------------


def test_consuming_twice_conflicts(pending: AccessRequest, gateway: Gateway):
    request_approve(access_request=pending, actor=DANA)
    assert gateway.consume(pending.public_id).status_code == 200

    error = rejected(lambda: gateway.consume(pending.public_id), 409, "conflict")

    assert error["details"] == {"status": "approved"}


@pytest.mark.parametrize("decide", ["pending", "denied", "cancelled", "partial-denied-all"])
def test_consuming_a_request_that_is_not_approved_conflicts(
    pending: AccessRequest, gateway: Gateway, decide: str
):
    if decide == "denied":
        request_deny(access_request=pending, actor=DANA)
    elif decide == "cancelled":
        assert gateway.cancel(pending.public_id).status_code == 200
    elif decide == "partial-denied-all":
        request_approve(access_request=pending, actor=DANA, tool_ids=[])

    error = rejected(lambda: gateway.consume(pending.public_id), 409, "conflict")

    pending.refresh_from_db()
    assert error["details"] == {"status": pending.status}
    assert pending.consumed_at is None


@pytest.mark.parametrize("decide", ["approved", "approved-1h", "denied", "cancelled"])
def test_cancelling_a_request_that_is_no_longer_pending_conflicts(
    pending: AccessRequest, gateway: Gateway, decide: str
):
    if decide.startswith("approved"):
        duration = timedelta(hours=1) if decide == "approved-1h" else None
        request_approve(access_request=pending, actor=DANA, duration=duration)
    elif decide == "denied":
        request_deny(access_request=pending, actor=DANA)
    else:
        assert gateway.cancel(pending.public_id).status_code == 200
    status = AccessRequest.objects.get(pk=pending.pk).status

    error = rejected(lambda: gateway.cancel(pending.public_id), 409, "conflict")

    assert error["details"] == {"status": status}
    assert AccessRequest.objects.get(pk=pending.pk).status == status


# --- 413 too_large -----------------------------------------------------------------------------


def padded(size: int) -> bytes:
    """A decisions body of exactly `size` bytes (its note is far over 2000 characters)."""
    empty = json.dumps(with_(note=""))
    return json.dumps(with_(note="n" * (size - len(empty)))).encode()


def test_a_body_over_64_kb_is_too_large(demo, gateway: Gateway):
    raw = padded(64 * 1024 + 1)
    assert len(raw) == 64 * 1024 + 1

    error = rejected(lambda: gateway.post(DECISIONS_URL, raw=raw), 413, "too_large")

    assert "details" not in error


def test_a_body_of_exactly_64_kb_is_read_and_validated(demo, gateway: Gateway):
    raw = padded(64 * 1024)
    assert len(raw) == 64 * 1024

    error = rejected(lambda: gateway.post(DECISIONS_URL, raw=raw), 400, "invalid_request")

    assert set(error["details"]) == {"note"}


def test_a_megabyte_body_is_too_large_not_a_crash(demo, gateway: Gateway):
    raw = b'{"note": "' + b"x" * (3 * 1024 * 1024) + b'"}'

    rejected(lambda: gateway.post(DECISIONS_URL, raw=raw), 413, "too_large")


# --- 422 unknown_connector / unknown_tool ------------------------------------------------------


def test_an_unknown_connector_is_unprocessable(demo, gateway: Gateway):
    error = rejected(lambda: gateway.decide(ANA, "jira", [CREATE]), 422, "unknown_connector")

    assert error["details"] == {"connector": "jira"}


def test_unknown_tools_are_unprocessable_and_named(demo, gateway: Gateway):
    call = lambda: gateway.decide(  # noqa: E731
        ANA, CALENDAR, [LIST, "github_repos_list", "calendar_nope", CREATE]
    )

    error = rejected(call, 422, "unknown_tool")

    assert error["details"] == {"tools": ["github_repos_list", "calendar_nope"]}


def test_a_connector_slug_is_matched_exactly(demo, gateway: Gateway):
    rejected(lambda: gateway.decide(ANA, "Google-Calendar", [LIST]), 422, "unknown_connector")


def test_an_unknown_user_with_an_unknown_tool_is_still_unprocessable(demo, gateway: Gateway):
    rejected(lambda: gateway.decide("nobody@x.io", CALENDAR, ["x"]), 422, "unknown_tool")


def test_a_database_outage_answers_503_with_retry_after_and_stores_nothing(
    demo, gateway: Gateway, monkeypatch
):
    def database_down(raw_key: str, **options):
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed')

    monkeypatch.setattr(views, "api_key_authenticate", database_down)
    before = row_counts()
    response = gateway.post(DECISIONS_URL, VALID)
    assert_error(response, 503, "unavailable")
    assert response["Retry-After"] == "5"
    assert row_counts() == before
