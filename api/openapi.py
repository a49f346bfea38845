"""The OpenAPI 3.1 document of the gateway API, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from django.conf import settings

ERROR = {"$ref": "#/components/schemas/Error"}
DECISIONS = ["allow", "deny", "step_up", "approval_required"]
REQUEST_STATUSES = ["pending", "approved", "denied", "auto_approved", "expired", "cancelled"]


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

SCHEMAS: dict[str, Any] = {
    "DecisionCall": {
        "type": "object",
        "additionalProperties": False,
        "required": ["user", "connector", "tools"],
        "properties": {
            "user": {
                "type": "string",
                "minLength": 1,
                "maxLength": 254,
                "description": "The person's email or identity-provider external id.",
            },
            "connector": {
                "type": "string",
                "minLength": 1,
                "maxLength": 100,
                "description": "Connector slug, e.g. google-calendar.",
            },
            "tools": {
                "type": "array",
                "minItems": 1,
                "maxItems": 50,
                "items": {"type": "string", "minLength": 1, "maxLength": 200},
                "description": "Tool keys, e.g. google-calendar_events_create.",
            },
            "note": {
                "type": "string",
                "maxLength": 2000,
                "description": "Why the agent needs this; shown to approvers.",
            },
            "agent": {"type": "string", "maxLength": 200, "description": "e.g. Claude, Copilot."},
            "arguments": {
                "type": "object",
                "description": (
                    "The tool call's arguments (at most 16 KB encoded, nested at most 32 levels)."
                ),
            },
            "step_up": {
                "type": "object",
                "additionalProperties": False,
                "required": ["authenticated_at"],
                "properties": {"authenticated_at": {"type": "string", "format": "date-time"}},
                "description": "When the user last re-authenticated strongly.",
            },
        },
    },
    "ToolDecision": {
        "type": "object",
        "required": ["tool", "decision", "policy_id", "reason_code"],
        "properties": {
            "tool": {"type": "string"},
            "decision": {"enum": DECISIONS},
            "policy_id": {"type": ["integer", "null"]},
            "reason_code": {"type": "string"},
        },
    },
    "RequestRef": {
        "type": "object",
        "required": ["id", "status", "status_url", "review_url"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "status": {"enum": REQUEST_STATUSES},
            "status_url": {"type": "string", "format": "uri"},
            "review_url": {"type": "string", "format": "uri"},
        },
    },
    "Decision": {
        "type": "object",
        "required": ["decision", "reason_code", "reason", "tools", "request"],
        "properties": {
            "decision": {"enum": DECISIONS},
            "reason_code": {
                "type": "string",
                "description": "allowed, unknown_user, user_locked, connector_disabled, "
                "tool_disabled, no_policy, policy_deny, approval_required, step_up_required…",
            },
            "reason": {"type": "string", "description": "A sentence for logs and people."},
            "tools": {"type": "array", "items": {"$ref": "#/components/schemas/ToolDecision"}},
            "request": {"oneOf": [{"$ref": "#/components/schemas/RequestRef"}, {"type": "null"}]},
        },
    },
    "Request": {
        "type": "object",
        "required": [
            "id",
            "status",
            "tools",
            "decided_at",
            "decided_by",
            "decided_via",
            "comment",
            "grant_expires_at",
            "consumed_at",
        ],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "status": {"enum": REQUEST_STATUSES},
            "tools": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["tool", "status"],
                    "properties": {
                        "tool": {"type": "string"},
                        "status": {"enum": ["pending", "approved", "denied"]},
                    },
                },
            },
            "decided_at": {"type": ["string", "null"], "format": "date-time"},
            "decided_by": {"type": ["string", "null"]},
            "decided_via": {
                "type": ["string", "null"],
                "description": "web, email, sms, timeout, policy or api",
            },
            "comment": {"type": "string"},
            "grant_expires_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "Set for a time-bound approval.",
            },
            "consumed_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {"type": "object"},
                },
            }
        },
    },
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
            "schemas": SCHEMAS,
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
