"""The OpenAPI 3.1 document of the gateway API, served at /api/v1/openapi.json.

Its schemas are the API's pydantic models (contract.py), the same that validate the calls.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema

from api.contract import Decision, DecisionCall, Error, Request, RequestRef

ERROR = {"$ref": "#/components/schemas/Error"}
# Each model with the side of the API it describes: what a gateway sends, or what it receives.
MODELS: list[tuple[type[BaseModel], JsonSchemaMode]] = [
    (DecisionCall, "validation"),
    (Decision, "serialization"),
    (RequestRef, "serialization"),
    (Request, "serialization"),
    (Error, "serialization"),
]


class _WithoutFieldTitles(GenerateJsonSchema):
    """Pydantic titles every field after its name ("Grant Expires At"): noise for readers."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


@cache
def component_schemas() -> dict[str, Any]:
    """The document's components/schemas: every model, and the models they hold, by name."""
    _, document = models_json_schema(
        MODELS,
        ref_template="#/components/schemas/{model}",
        schema_generator=_WithoutFieldTitles,
    )
    return document["$defs"]


def _error(description: str, codes: list[str]) -> dict[str, Any]:
    return {
        "description": f"{description} (error codes: {', '.join(codes)})",
        "content": {"application/json": {"schema": ERROR}},
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


REQUEST_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The request's id, as returned by POST /decisions.",
    "schema": {"type": "string", "format": "uuid"},
}


def openapi_document() -> dict[str, Any]:
    """The whole document, with this deployment's URL as its server."""
    unauthorized = _error("Missing or invalid API key", ["unauthorized"])
    not_found = _error("No such request for this key", ["not_found"])
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "agenwork gateway API",
            "version": "1.0.0",
            "description": (
                "Ask agenwork whether an AI agent may run a tool call, wait for a human when it "
                "needs approval, and use the approval once. Authenticate with "
                "`Authorization: Bearer <key>` (`manage.py create_api_key NAME`). Resolutions are "
                "also POSTed to the key's webhook URL, signed with the header "
                '`Agenwork-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`.'
            ),
        },
        "servers": [{"url": f"{settings.SITE_URL}/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": component_schemas(),
        },
        "paths": {
            "/decisions": {
                "post": {
                    "operationId": "decide",
                    "summary": "Decide a tool call",
                    "description": (
                        "The same call repeated while its request is pending returns the same "
                        "request. A body over 64 KB is refused with 413."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/DecisionCall"}
                            }
                        },
                    },
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Decision"}, "The decision"),
                        "400": _error("Malformed body", ["invalid_json", "invalid_request"]),
                        "401": unauthorized,
                        "413": _error("Body over 64 KB", ["too_large"]),
                        "422": _error(
                            "Unknown connector or tool", ["unknown_connector", "unknown_tool"]
                        ),
                    },
                }
            },
            "/requests/{id}": {
                "get": {
                    "operationId": "getRequest",
                    "summary": "A request's status",
                    "parameters": [REQUEST_ID],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Request"}, "The request"),
                        "401": unauthorized,
                        "404": not_found,
                    },
                }
            },
            "/requests/{id}/consume": {
                "post": {
                    "operationId": "consumeRequest",
                    "summary": "Use an approval once",
                    "parameters": [REQUEST_ID],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Request"}, "Consumed now"),
                        "401": unauthorized,
                        "404": not_found,
                        "409": _error("Not approved, or consumed already", ["conflict"]),
                    },
                }
            },
            "/requests/{id}/cancel": {
                "post": {
                    "operationId": "cancelRequest",
                    "summary": "Cancel a pending request",
                    "parameters": [REQUEST_ID],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Request"}, "Cancelled now"),
                        "401": unauthorized,
                        "404": not_found,
                        "409": _error("No longer pending", ["conflict"]),
                    },
                }
            },
        },
    }
