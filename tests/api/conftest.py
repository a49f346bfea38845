"""Fixtures of the gateway API tests: the DESIGN §9 demo, an API key, a client that sends it.

- `demo` seeds the canonical scenario through `manage.py seed_demo --requests 0`.
- `gateway` wraps Django's test client with the bearer header and JSON encoding.
- `row_counts()` is what "a rejected call stores nothing" is checked against.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from approval_flows.models import Notification
from gateways.services import IssuedKey, api_key_create
from policies.models import DecisionLog
from requests_app.models import AccessRequest, RequestEvent, RequestTool, WebhookDelivery
from tests.support.webhooks import receiver  # noqa: F401 (a fixture)

DECISIONS_URL = "/api/v1/decisions"
CALENDAR = "google-calendar"
LIST = "google-calendar_events_list"
GET = "google-calendar_events_get"
CREATE = "google-calendar_events_create"
UPDATE = "google-calendar_events_update"
DELETE = "google-calendar_events_delete"
REPOS_DELETE = "github_repos_delete"
ANA, BEN, DANA, LEE = "ana@example.com", "ben@example.com", "dana@example.com", "lee@example.com"

COUNTED_MODELS = (
    AccessRequest,
    RequestTool,
    RequestEvent,
    DecisionLog,
    WebhookDelivery,
    Notification,
)


def row_counts() -> dict[str, int]:
    """How many rows each table a decision or a transition can write holds now."""
    return {model.__name__: model.objects.count() for model in COUNTED_MODELS}


class Gateway:
    """A gateway as the API sees it: a test client that sends its bearer key on every call."""

    def __init__(self, raw_key: str, client: Client | None = None) -> None:
        self.raw_key = raw_key
        self.client = client or Client()

    @property
    def auth(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.raw_key}"}

    def post(self, path: str, body: Any = None, *, raw: bytes | str | None = None, **extra: Any):
        data = raw if raw is not None else ("" if body is None else json.dumps(body))
        return self.client.post(
            path, data=data, content_type="application/json", **self.auth, **extra
        )

    def get(self, path: str, **extra: Any):
        return self.client.get(path, **self.auth, **extra)

    def decide(self, user: str, connector: str, tools: list[str], **fields: Any):
        return self.post(
            DECISIONS_URL, {"user": user, "connector": connector, "tools": tools, **fields}
        )

    def status(self, public_id: object):
        return self.get(f"/api/v1/requests/{public_id}")

    def consume(self, public_id: object):
        return self.post(f"/api/v1/requests/{public_id}/consume")

    def cancel(self, public_id: object):
        return self.post(f"/api/v1/requests/{public_id}/cancel")


def assert_error(response, status: int, code: str) -> dict[str, Any]:
    """The response is the API's error shape with this status and code; returns the error."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) <= {"code", "message", "details"}
    assert {"code", "message"} <= set(error)
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    if "details" in error:
        assert isinstance(error["details"], dict) and error["details"]
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")
    if status == 405:
        assert response["Allow"] in {"GET", "POST"}
    return error


@pytest.fixture
def issued(db) -> IssuedKey:
    return api_key_create(name="test gateway")


@pytest.fixture
def gateway(issued: IssuedKey) -> Gateway:
    return Gateway(issued.raw_key)


@pytest.fixture
def other_gateway(db) -> Gateway:
    return Gateway(api_key_create(name="another gateway").raw_key)
