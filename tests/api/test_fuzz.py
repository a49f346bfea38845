"""Property tests of the gateway API with arbitrary input (hypothesis, then schemathesis).

For any body POSTed to /decisions: never a 5xx; a 4xx is in the error shape and stores nothing;
a 200 is a decision in the DESIGN §6 shape. Bodies are arbitrary JSON values, objects with the
real field names and random values (real emails, slugs and tool keys mixed in so that every
outcome is reached), raw bytes, and valid bodies with bytes overwritten.

Schemathesis then drives every operation of the OpenAPI document, with bodies and ids that fit
the schema and bodies that break it: every answer must be documented and fit its schema.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from schemathesis import checks
from schemathesis.generation import GenerationMode

from tests.api.conftest import DECISIONS_URL, Gateway, row_counts

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,  # nothing written into the working tree
)
ERROR_CODES = {
    400: {"invalid_json", "invalid_request"},
    401: {"unauthorized"},
    404: {"not_found"},
    405: {"method_not_allowed"},
    409: {"conflict"},
    413: {"too_large"},
    422: {"unknown_connector", "unknown_tool"},
}

USERS = ["ana@example.com", "ben@example.com", "lee@example.com", "dana@example.com", "x@y.z"]
CATALOG = {
    "google-calendar": [
        "google-calendar_events_list",
        "google-calendar_events_get",
        "google-calendar_events_create",
        "google-calendar_events_update",
        "google-calendar_events_delete",
    ],
    "github": ["github_repos_list", "github_issues_create", "github_repos_delete"],
    "slack": ["slack_channels_list", "slack_messages_send", "nope"],
    "jira": ["jira_issues_create"],
}
ALL_TOOLS = sorted({key for keys in CATALOG.values() for key in keys})

# Characters that have broken JSON APIs: NUL, lone surrogates, quotes, backslashes, controls.
NASTY = st.sampled_from(["\x00", "\ud800", "\udfff", '"', "\\", "\n", "\u2028", "\ufeff"])
# Joined from a list: st.text() over such an alphabet almost never draws the nasty ones.
TEXT = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(NASTY, st.characters(exclude_categories=())), max_size=40).map("".join),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(TEXT, children, max_size=5)
    ),
    max_leaves=25,
)


def _iso_times() -> st.SearchStrategy[str]:
    offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    )
    aware = st.datetimes(timezones=offsets).map(datetime.isoformat)
    recent = st.integers(min_value=-3600, max_value=3600).map(
        lambda seconds: (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()
    )
    naive = st.datetimes().map(datetime.isoformat)
    return st.one_of(aware, recent, naive, TEXT)


CLEAN_TEXT = st.text(max_size=60)


def _calls(users: st.SearchStrategy[str], text: st.SearchStrategy[str]) -> st.SearchStrategy:
    """Calls that are valid or nearly so: a connector with its own tools, extras of `text`."""
    return st.sampled_from(list(CATALOG)).flatmap(
        lambda slug: st.fixed_dictionaries(
            {
                "user": users,
                "connector": st.just(slug),
                "tools": st.lists(st.sampled_from(CATALOG[slug]), min_size=1, max_size=4),
            },
            optional={
                "note": text,
                "agent": st.one_of(st.sampled_from(["Claude", "ChatGPT", ""]), text),
                "arguments": st.dictionaries(text, JSON_VALUES, max_size=4),
                "step_up": st.fixed_dictionaries({"authenticated_at": _iso_times()}),
            },
        )
    )


# Any value in any field, the real field names, and now and then fields of no known name.
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "user": st.one_of(st.sampled_from(USERS), TEXT, JSON_VALUES),
    "connector": st.one_of(st.sampled_from(list(CATALOG)), TEXT, JSON_VALUES),
    "tools": st.one_of(
        st.lists(st.sampled_from(ALL_TOOLS), min_size=1, max_size=4),
        st.lists(st.one_of(st.sampled_from(ALL_TOOLS), TEXT), max_size=55),
        JSON_VALUES,
    ),
    "note": st.one_of(TEXT, st.text(min_size=1990, max_size=2010), JSON_VALUES),
    "agent": st.one_of(TEXT, JSON_VALUES),
    "arguments": st.one_of(st.dictionaries(TEXT, JSON_VALUES, max_size=6), JSON_VALUES),
    "step_up": st.one_of(
        st.fixed_dictionaries({"authenticated_at": _iso_times()}),
        st.dictionaries(TEXT, JSON_VALUES, max_size=2),
        JSON_VALUES,
    ),
}
CORRUPTIONS = st.one_of(
    st.just({}),
    st.fixed_dictionaries({}, optional=FIELDS),
    st.dictionaries(TEXT, JSON_VALUES, min_size=1, max_size=2),
)
# The DESIGN §9 calls, so that requests are created (and deduplicated) with random extras.
SCENARIO_CALLS = st.tuples(
    st.sampled_from(
        [
            ("ana@example.com", "google-calendar", ["google-calendar_events_create"]),
            ("ana@example.com", "google-calendar", CATALOG["google-calendar"][:4]),
            ("ben@example.com", "github", ["github_repos_delete", "github_repos_list"]),
        ]
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "note": st.one_of(CLEAN_TEXT, TEXT),
            "agent": TEXT,
            "arguments": st.dictionaries(TEXT, JSON_VALUES, max_size=4),
            "step_up": st.fixed_dictionaries({"authenticated_at": _iso_times()}),
        },
    ),
).map(lambda parts: dict(zip(("user", "connector", "tools"), parts[0], strict=True)) | parts[1])
DECISION_BODIES = st.one_of(
    SCENARIO_CALLS,
    _calls(st.sampled_from(USERS), CLEAN_TEXT),
    st.tuples(_calls(st.one_of(st.sampled_from(USERS), TEXT), TEXT), CORRUPTIONS).map(
        lambda parts: {**parts[0], **parts[1]}
    ),
)


def check_answer(gateway: Gateway, raw: bytes) -> None:
    """POST the bytes and check the API's promises about the answer and the database."""
    before = row_counts()
    response = gateway.post(DECISIONS_URL, raw=raw)
    status = response.status_code
    event(f"HTTP {status}")

    assert status < 500, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    if status == 200:
        assert set(body) == {"decision", "reason_code", "reason", "tools", "request"}
        assert body["decision"] in {"allow", "deny", "step_up", "approval_required"}
        assert (body["request"] is not None) == (body["decision"] == "approval_required")
        event(f"decision {body['decision']}")
        return
    assert status in ERROR_CODES, status
    assert set(body) == {"error"}
    assert set(body["error"]) <= {"code", "message", "details"}
    assert body["error"]["code"] in ERROR_CODES[status]
    event(f"error {body['error']['code']}")
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"].get("details", {}), dict)
    assert row_counts() == before


@pytest.fixture
def fuzz_gateway(demo, gateway: Gateway) -> Gateway:
    return gateway


@FUZZ
@given(value=JSON_VALUES)
def test_any_json_value_is_answered_without_a_5xx(fuzz_gateway: Gateway, value: Any):
    check_answer(fuzz_gateway, json.dumps(value).encode())


@FUZZ
@given(body=DECISION_BODIES)
def test_any_decision_shaped_body_is_answered_without_a_5xx(fuzz_gateway: Gateway, body):
    check_answer(fuzz_gateway, json.dumps(body).encode())


@FUZZ
@given(
    raw=st.one_of(
        st.binary(max_size=300), TEXT.map(lambda text: text.encode("utf-8", "surrogatepass"))
    )
)
def test_any_bytes_are_answered_without_a_5xx(fuzz_gateway: Gateway, raw: bytes):
    check_answer(fuzz_gateway, raw)


@FUZZ
@given(
    body=DECISION_BODIES,
    mutations=st.lists(
        st.tuples(st.integers(min_value=0, max_value=10_000), st.binary(min_size=1, max_size=3)),
        min_size=1,
        max_size=4,
    ),
)
def test_a_decision_body_with_bytes_flipped_is_answered_without_a_5xx(
    fuzz_gateway: Gateway, body, mutations
):
    raw = bytearray(json.dumps(body).encode())
    for position, replacement in mutations:
        at = position % (len(raw) + 1)
        raw[at : at + len(replacement)] = replacement
    check_answer(fuzz_gateway, bytes(raw))


# --- schemathesis: every operation, driven from the OpenAPI document ---------------------------


@pytest.fixture
def wsgi_in_test_transaction(db):
    """Call the WSGI app in this thread without it closing the test's connection after each
    request (Django's test client disconnects these receivers the same way)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


SCHEMA_CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]


def test_every_operation_answers_as_its_openapi_document_says(
    demo, gateway: Gateway, wsgi_in_test_transaction
):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_in_test_transaction)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 4
    cases = st.one_of(
        [op.as_strategy(generation_mode=mode) for op in operations for mode in GenerationMode]
    )
    headers = {"Authorization": f"Bearer {gateway.raw_key}"}

    @settings(
        max_examples=200,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
    @given(case=cases)
    def answers_as_documented(case) -> None:
        response = case.call(headers=headers)
        event(f"{case.operation.label} → {response.status_code}")
        case.validate_response(response, checks=SCHEMA_CHECKS)

    answers_as_documented()
