"""Schemathesis over /api/v1/openapi.json: at least 10,000 generated calls, counted.

- Every operation, with data that fits its schema and data that breaks it (positive and negative
  generation), called in-process through the WSGI app with a valid Bearer key.
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
from io import StringIO

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks
from schemathesis.generation import GenerationMode

from approval_flows.models import Notification
from gateways.services import api_key_create
from policies.models import DecisionLog
from requests_app.models import AccessRequest, RequestEvent, RequestTool, WebhookDelivery

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


@pytest.fixture
def wsgi_app(db):
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
    wsgi_app, quiet_4xx_log
):
    call_command("seed_demo", requests=0, stdout=StringIO(), stderr=StringIO())
    headers = {"Authorization": f"Bearer {api_key_create(name='fuzz gateway').raw_key}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == OPERATIONS
    calls: Counter[str] = Counter()

    for operation in operations:
        for mode in GenerationMode:

            @BULK
            @given(case=operation.as_strategy(generation_mode=mode))
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
