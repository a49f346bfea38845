"""Schemathesis over /api/v1/openapi.json: at least 10,000 generated calls, counted.

- Every operation, with data that fits its schema and data that breaks it (positive and negative
  generation), called in-process through the WSGI app with a valid Bearer key. Valid ids are
  now and then those of requests this key created (pending, approved), so 200 and 409 are
  reached as well as 404.
- Every answer: no 5xx, a documented status, content type and body schema.
- A 4xx stores nothing: the rows that a decision or a transition writes are counted before and
  after each call (one query each).
- Deterministic for CI: a derandomized run, no example database, no deadline.

tests/api/test_fuzz.py holds the hand-written hypothesis strategies for /decisions; this test is
the bulk run that proves "≥10,000 cases" by counting them.
"""

from __future__ import annotations

import logging
from collections import Counter

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import checks
from schemathesis.generation import GenerationMode

from approval_flows.models import Notification
from gateways.services import api_key_create
from policies.models import DecisionLog
from requests_app.models import AccessRequest, RequestEvent, RequestTool, WebhookDelivery
from requests_app.services import Actor, request_approve

pytestmark = pytest.mark.django_db

MIN_CASES = 10_000
OPERATIONS = 4
# Per operation and generation mode; hypothesis may stop a strategy early, hence the margin.
EXAMPLES_PER_STRATEGY = 1_300
STORED_BY_THE_API = (
    AccessRequest,
    RequestTool,
    RequestEvent,
    DecisionLog,
    Notification,
    WebhookDelivery,
)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]
BULK = settings(
    max_examples=EXAMPLES_PER_STRATEGY,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)


def stored_rows() -> tuple[int, ...]:
    """How many rows each table the API may write holds now, in one query."""
    counts = ", ".join(f'(SELECT count(*) FROM "{m._meta.db_table}")' for m in STORED_BY_THE_API)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        return cursor.fetchone()


CALENDAR = "google-calendar"
# DESIGN §9 calls that need an approval: each creates a request for the fuzzing key.
APPROVAL_CALLS = [
    {"user": "ana@example.com", "connector": CALENDAR, "tools": [f"{CALENDAR}_events_create"]},
    {"user": "ana@example.com", "connector": CALENDAR, "tools": [f"{CALENDAR}_events_update"]},
]


def requests_of_this_key(headers: dict[str, str]) -> list[str]:
    """Two requests created through the API with this key: one pending, one approved."""
    client = Client(HTTP_AUTHORIZATION=headers["Authorization"])
    ids = []
    for call in APPROVAL_CALLS:
        response = client.post("/api/v1/decisions", call, content_type="application/json")
        assert response.json()["decision"] == "approval_required", response.content
        ids.append(response.json()["request"]["id"])
    approved = AccessRequest.objects.get(public_id=ids[1])
    request_approve(access_request=approved, actor=Actor(name="Fuzz admin", channel="web"))
    return ids


def _aimed_at(parts: tuple) -> object:
    case, public_id = parts
    case.path_parameters = {**case.path_parameters, "id": public_id}
    return case


VERBS = ("list", "get", "create", "update", "delete")
# Real people, connectors and tools, so that valid bodies reach every decision, not only 422.
KNOWN_CALLS = st.fixed_dictionaries(
    {
        "user": st.sampled_from(["ana@example.com", "ben@example.com", "lee@example.com"]),
        "connector": st.just(CALENDAR),
        "tools": st.lists(
            st.sampled_from([f"{CALENDAR}_events_{verb}" for verb in VERBS]),
            min_size=1,
            max_size=3,
            unique=True,
        ),
    }
)


def _with_known_call(parts: tuple) -> object:
    case, known = parts
    case.body = {**case.body, **known}
    return case


def strategy_for(operation, mode: GenerationMode, ids: list[str]) -> st.SearchStrategy:
    """The operation's cases; for valid data, one time in two a real request's id, or a real
    user, connector and tools with the generated note, agent, arguments and step-up."""
    cases = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.NEGATIVE:
        return cases
    if "{id}" in operation.path:
        return st.one_of(cases, st.tuples(cases, st.sampled_from(ids)).map(_aimed_at))
    return st.one_of(cases, st.tuples(cases, KNOWN_CALLS).map(_with_known_call))


@pytest.fixture
def fuzzing_key(demo) -> tuple[dict[str, str], list[str]]:
    """The demo scenario, a key's header, and the ids of the requests the key created."""
    headers = {"Authorization": f"Bearer {api_key_create(name='fuzz gateway').raw_key}"}
    return headers, requests_of_this_key(headers)


@pytest.fixture
def wsgi_app(fuzzing_key):
    # After fuzzing_key: Django's test Client reconnects these receivers when it is done.
    """The WSGI app, called in this thread without closing the test's connection per request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def quiet_4xx_log():
    """Django logs every 4xx as a warning; ten thousand of them would only cost time."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


def test_ten_thousand_generated_calls_answer_as_documented_and_4xx_store_nothing(
    fuzzing_key, wsgi_app, quiet_4xx_log
):
    headers, ids = fuzzing_key
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == OPERATIONS
    calls: Counter[str] = Counter()

    for operation in operations:
        for mode in GenerationMode:

            @BULK
            @given(case=strategy_for(operation, mode, ids))
            def answers_as_documented(case) -> None:
                before = stored_rows()
                response = case.call(headers=headers)
                calls[f"{case.operation.label} {response.status_code}"] += 1
                case.validate_response(response, checks=CHECKS)
                if 400 <= response.status_code < 500:
                    assert stored_rows() == before, f"a {response.status_code} stored rows"

            answers_as_documented()

    total = sum(calls.values())
    assert total >= MIN_CASES, f"only {total} generated calls ran: {dict(calls)}"
    assert not [label for label in calls if label.endswith(("500", "502", "503"))]
    reached = {label.rsplit(" ", 1)[1] for label in calls}
    assert {"200", "400", "404", "409", "422"} <= reached, dict(calls)
    assert calls["POST /decisions 200"] > 500, dict(calls)
