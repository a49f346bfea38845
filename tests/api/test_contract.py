"""The API contract stated once: the models that validate a call are the document's schemas.

- Each field's problem is told in the same sentence as before the models (they are pinned here).
- Whatever the API accepts, the published DecisionCall schema accepts too, so a gateway that
  checks its calls against the document never refuses one the API would take.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from api.contract import DecisionCall
from api.errors import ApiError
from api.openapi import openapi_document
from api.validation import parse_decision_body

REQUIRED = "This field is required."
VALID = {"user": "ana@example.com", "connector": "google-calendar", "tools": ["x_list"]}
TOOL_KEYS = "Must be a list of tool keys (non-empty strings)."
TOOL_COUNT = "Name between 1 and 50 tools."
TOOL_KEY = "A tool key has at most 200 characters and no NUL."
STEP_UP = 'Must be {"authenticated_at": "<ISO 8601 time with a zone>"}.'
TIME = "authenticated_at must be an ISO 8601 time with a zone."
STRING = "Must be a string."
NUL = "Must not contain NUL characters."
DROP = object()  # a field left out of the call


def nested(depth: int) -> dict[str, Any]:
    """Arguments that nest `depth` levels: an object holding depth - 1 arrays."""
    inner: list[Any] = []
    for _ in range(depth - 2):
        inner = [inner]
    return {"x": inner}


MESSAGES = {
    "missing": (
        {"user": DROP, "connector": DROP, "tools": DROP},
        {"user": REQUIRED, "connector": REQUIRED, "tools": REQUIRED},
    ),
    "null-user": ({"user": None}, {"user": REQUIRED}),
    "null-tools": ({"tools": None}, {"tools": REQUIRED}),
    "user-number": ({"user": 42}, {"user": STRING}),
    "user-blank": ({"user": "   "}, {"user": "Must not be empty."}),
    "connector-empty": ({"connector": ""}, {"connector": "Must not be empty."}),
    "user-too-long": ({"user": "a" * 255}, {"user": "At most 254 characters."}),
    "connector-too-long": ({"connector": "c" * 101}, {"connector": "At most 100 characters."}),
    "nul-in-user": ({"user": "ana\x00"}, {"user": NUL}),
    "tools-string": ({"tools": "x_list"}, {"tools": TOOL_KEYS}),
    "tools-object": ({"tools": {"0": "x_list"}}, {"tools": TOOL_KEYS}),
    "tools-number-item": ({"tools": ["x_list", 1]}, {"tools": TOOL_KEYS}),
    "tools-empty-key": ({"tools": [""]}, {"tools": TOOL_KEYS}),
    "tools-empty": ({"tools": []}, {"tools": TOOL_COUNT}),
    "tools-51": ({"tools": ["x_list"] * 51}, {"tools": TOOL_COUNT}),
    "tool-key-too-long": ({"tools": ["t" * 201]}, {"tools": TOOL_KEY}),
    "nul-in-tool": ({"tools": ["x\x00"]}, {"tools": TOOL_KEY}),
    "note-number": ({"note": 5}, {"note": STRING}),
    "note-too-long": ({"note": "n" * 2001}, {"note": "At most 2000 characters."}),
    "agent-too-long": ({"agent": "a" * 201}, {"agent": "At most 200 characters."}),
    "nul-in-agent": ({"agent": "\x00"}, {"agent": NUL}),
    "arguments-list": ({"arguments": []}, {"arguments": "Must be a JSON object."}),
    "arguments-deep": (
        {"arguments": nested(33)},
        {"arguments": "Nest objects and arrays at most 32 levels deep."},
    ),
    "arguments-nul": (
        {"arguments": {"a\x00": 1}},
        {"arguments": "Must not contain NUL characters (PostgreSQL cannot store them)."},
    ),
    "arguments-over-16-kb": (
        {"arguments": {"a": "x" * 16_384}},
        {"arguments": "At most 16 KB once encoded (16392 bytes sent)."},
    ),
    "step-up-string": ({"step_up": "now"}, {"step_up": STEP_UP}),
    "step-up-empty": ({"step_up": {}}, {"step_up": STEP_UP}),
    "step-up-number": ({"step_up": {"authenticated_at": 1700000000}}, {"step_up": STEP_UP}),
    "step-up-extra": (
        {"step_up": {"authenticated_at": "2026-01-01T10:00:00Z", "how": "mfa"}},
        {"step_up": STEP_UP},
    ),
    "step-up-not-a-time": ({"step_up": {"authenticated_at": "soon"}}, {"step_up": TIME}),
    "step-up-naive": ({"step_up": {"authenticated_at": "2026-01-01T10:00"}}, {"step_up": TIME}),
    "unknown-fields": (
        {"tool": "x", "extra": None},
        {"tool": "Unknown field.", "extra": "Unknown field."},
    ),
}


@pytest.mark.parametrize(("changes", "details"), MESSAGES.values(), ids=MESSAGES.keys())
def test_each_field_is_told_its_problem_in_one_sentence(changes: dict, details: dict):
    body = {name: value for name, value in {**VALID, **changes}.items() if value is not DROP}

    with pytest.raises(ApiError) as raised:
        parse_decision_body(body)

    assert (raised.value.status, raised.value.code) == (400, "invalid_request")
    assert raised.value.details == details
    assert list(raised.value.details) == sorted(details)


def test_a_valid_call_is_read_as_the_engine_needs_it():
    call = parse_decision_body(
        {
            "user": "  ana@example.com ",
            "connector": "google-calendar",
            "tools": ["b_list", "a_get", "b_list"],
            "note": None,
            "step_up": {"authenticated_at": "2026-01-01T10:00:00Z"},
        }
    )

    assert call.user == "ana@example.com"
    assert call.tools == ["b_list", "a_get"]
    assert call.note is None and call.agent is None and call.arguments is None
    assert call.step_up is not None
    assert call.step_up.authenticated_at.isoformat() == "2026-01-01T10:00:00+00:00"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document()


@pytest.fixture(scope="module")
def call_schema(document) -> Draft202012Validator:
    """The DecisionCall schema as the document publishes it, its references resolved."""
    registry = Registry().with_resource(
        "urn:openapi", Resource(contents=document, specification=DRAFT202012)
    )
    return Draft202012Validator(
        {"$ref": "urn:openapi#/components/schemas/DecisionCall"}, registry=registry
    )


def test_the_document_states_the_limits_of_design_section_6(document):
    schema = document["components"]["schemas"]["DecisionCall"]
    fields = schema["properties"]

    assert schema["required"] == ["user", "connector", "tools"]
    assert schema["additionalProperties"] is False
    assert set(fields) == set(DecisionCall.model_fields)
    assert (fields["tools"]["minItems"], fields["tools"]["maxItems"]) == (1, 50)
    assert fields["tools"]["items"]["maxLength"] == 200
    assert fields["user"]["maxLength"] == 254
    assert fields["connector"]["maxLength"] == 100
    assert fields["note"]["anyOf"][0]["maxLength"] == 2000
    assert fields["agent"]["anyOf"][0]["maxLength"] == 200
    assert "16 KB" in fields["arguments"]["description"]


TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "ana@example.com", "\x00", "x" * 201, "n" * 2001]),
)
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), TEXT),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "user": st.one_of(TEXT, JSON),
        "connector": st.one_of(TEXT, JSON),
        "tools": st.one_of(st.lists(TEXT, max_size=52), JSON),
        "note": st.one_of(TEXT, JSON),
        "agent": st.one_of(TEXT, JSON),
        "arguments": st.one_of(st.dictionaries(TEXT, JSON, max_size=3), JSON),
        "step_up": st.one_of(
            st.fixed_dictionaries({"authenticated_at": st.one_of(TEXT, JSON)}),
            st.just({"authenticated_at": "2026-01-01T10:00:00Z"}),
            JSON,
        ),
        "extra": JSON,
    },
)


@settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(body=st.one_of(FIELDS, st.builds(lambda extra: {**VALID, **extra}, FIELDS)))
def test_what_the_api_accepts_the_published_schema_accepts(call_schema, body: dict):
    """Not the converse: NUL characters, blank names and oversized arguments are the API's own."""
    try:
        parse_decision_body(body)
    except ApiError:
        accepted = False
    else:
        accepted = True

    if accepted:
        assert call_schema.is_valid(body), body
