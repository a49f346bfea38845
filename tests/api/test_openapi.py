"""The OpenAPI 3.1 document: served, complete, and true to what the endpoints really answer."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import resolve
from django.utils import timezone
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from requests_app.models import AccessRequest
from requests_app.services import Actor, request_approve
from tests.api.conftest import (
    ANA,
    BEN,
    CALENDAR,
    CREATE,
    DECISIONS_URL,
    LIST,
    REPOS_DELETE,
    Gateway,
)

pytestmark = pytest.mark.django_db

DOCUMENT_URI = "urn:agenwork:openapi"
PATHS = {"/decisions", "/requests/{id}", "/requests/{id}/consume", "/requests/{id}/cancel"}


@pytest.fixture
def document(db) -> dict[str, Any]:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return json.loads(response.content)


def validator(document: dict[str, Any], schema_name: str) -> Draft202012Validator:
    """A validator for one component schema, resolving the document's own $refs."""
    registry = Registry().with_resource(
        DOCUMENT_URI, Resource(contents=document, specification=DRAFT202012)
    )
    return Draft202012Validator(
        {"$ref": f"{DOCUMENT_URI}#/components/schemas/{schema_name}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def response_schema_name(document: dict[str, Any], path: str, method: str, status: int) -> str:
    """The component schema the document promises for this answer."""
    response = document["paths"][path][method]["responses"][str(status)]
    ref = response["content"]["application/json"]["schema"]["$ref"]
    return ref.removeprefix("#/components/schemas/")


def assert_documented(document, path: str, method: str, response) -> None:
    """The answer's status is documented for this operation and its body fits the schema."""
    name = response_schema_name(document, path, method, response.status_code)
    errors = list(validator(document, name).iter_errors(response.json()))
    assert errors == [], [error.message for error in errors]


def test_the_document_is_openapi_3_1_json_served_without_a_key(document):
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"]
    assert document["info"]["version"]
    assert set(document["paths"]) == PATHS
    assert document["servers"] == [{"url": "http://127.0.0.1:8000/api/v1"}]
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
    }


def test_every_schema_in_the_document_is_a_valid_json_schema(document):
    for name, schema in document["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
        assert validator(document, name) is not None


def test_every_local_reference_resolves(document):
    text = json.dumps(document)
    refs = set(re.findall(r'"\$ref": "#/components/schemas/(\w+)"', text))

    assert refs
    assert refs <= set(document["components"]["schemas"])


def test_every_documented_path_is_routed_to_an_endpoint(document):
    for path in document["paths"]:
        url = "/api/v1" + path.replace("{id}", "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f")
        match = resolve(url)
        # The catch-all that answers 404 has no name; every real endpoint has one.
        assert match.url_name is not None, f"{path} is documented but not routed"
        assert match.namespace == "api"


def test_every_operation_documents_its_errors_in_the_error_shape(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "401" in responses, (path, method)
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}


def test_decisions_of_every_kind_match_the_decision_schema(demo, gateway: Gateway, document):
    fresh = {"authenticated_at": timezone.now().isoformat()}
    calls = [
        (ANA, CALENDAR, [LIST], {}),
        (ANA, CALENDAR, [CREATE], {"note": "QBR", "agent": "Claude", "arguments": {"a": [1]}}),
        (BEN, CALENDAR, [CREATE], {}),
        (BEN, "github", [REPOS_DELETE], {}),
        (BEN, "github", [REPOS_DELETE], {"step_up": fresh}),
        ("lee@example.com", CALENDAR, [LIST], {}),
        ("nobody@example.com", CALENDAR, [LIST], {}),
    ]
    seen = set()
    for user, connector, tools, extra in calls:
        response = gateway.decide(user, connector, tools, **extra)
        assert response.status_code == 200
        assert_documented(document, "/decisions", "post", response)
        seen.add(response.json()["decision"])

    assert seen == {"allow", "deny", "step_up", "approval_required"}


def test_the_calls_sent_match_the_documented_request_body(document):
    call = validator(document, "DecisionCall")

    assert call.is_valid({"user": ANA, "connector": CALENDAR, "tools": [CREATE]})
    assert call.is_valid(
        {
            "user": ANA,
            "connector": CALENDAR,
            "tools": [CREATE],
            "note": "n",
            "agent": "Claude",
            "arguments": {"x": 1},
            "step_up": {"authenticated_at": "2026-01-01T10:00:00Z"},
        }
    )
    assert not call.is_valid({"user": ANA, "connector": CALENDAR, "tools": []})
    assert not call.is_valid({"user": ANA, "connector": CALENDAR, "tools": [CREATE], "x": 1})
    assert not call.is_valid({"user": ANA, "connector": CALENDAR, "tools": ["t"] * 51})
    assert not call.is_valid(
        {"user": ANA, "connector": CALENDAR, "tools": [CREATE], "note": "n" * 2001}
    )


def test_request_answers_match_the_request_schema(demo, gateway: Gateway, document):
    ref = gateway.decide(ANA, CALENDAR, [CREATE]).json()["request"]
    assert validator(document, "RequestRef").is_valid(ref)
    assert_documented(document, "/requests/{id}", "get", gateway.status(ref["id"]))

    access_request = AccessRequest.objects.get(public_id=ref["id"])
    request_approve(access_request=access_request, actor=Actor(name="Dana Levi", channel="web"))
    assert_documented(document, "/requests/{id}", "get", gateway.status(ref["id"]))
    assert_documented(document, "/requests/{id}/consume", "post", gateway.consume(ref["id"]))
    assert_documented(document, "/requests/{id}/consume", "post", gateway.consume(ref["id"]))

    other = gateway.decide(ANA, CALENDAR, [CREATE], arguments={"n": 2}).json()["request"]
    assert_documented(document, "/requests/{id}/cancel", "post", gateway.cancel(other["id"]))
    assert_documented(document, "/requests/{id}/cancel", "post", gateway.cancel(other["id"]))


def test_error_answers_match_the_documented_error_responses(demo, gateway: Gateway, document):
    answers = [
        ("/decisions", "post", gateway.post(DECISIONS_URL, raw=b"{")),
        ("/decisions", "post", gateway.post(DECISIONS_URL, {"user": 1})),
        ("/decisions", "post", Client().post(DECISIONS_URL)),
        ("/decisions", "post", gateway.post(DECISIONS_URL, raw=b"[" + b" " * 70_000 + b"]")),
        ("/decisions", "post", gateway.decide(ANA, "jira", [CREATE])),
        ("/decisions", "post", gateway.decide(ANA, CALENDAR, ["nope"])),
        ("/requests/{id}", "get", gateway.status("3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f")),
        ("/requests/{id}/cancel", "post", gateway.cancel("nope")),
    ]

    statuses = set()
    for path, method, response in answers:
        assert_documented(document, path, method, response)
        statuses.add(response.status_code)

    assert statuses == {400, 401, 404, 413, 422}


def test_the_docs_page_renders_for_anonymous_users(document):
    response = Client().get("/api/v1/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert document["info"]["title"] in html
    for path in PATHS:
        assert path in html
    assert "/api/v1/openapi.json" in html
    assert "Authorization: Bearer" in html
