"""SCIM errors: raised anywhere in a request, answered in SCIM's JSON error format."""

from __future__ import annotations

import json

from django.http import HttpResponse

from agenwork.endpoints import Refusal

CONTENT_TYPE = "application/scim+json"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Refusal):
    """A SCIM error response: status, scimType (for 400 and 409) and a detail."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type

    @classmethod
    def of(cls, status: int, message: str) -> ScimError:
        return cls(status, message)

    def response(self) -> HttpResponse:
        return error_response(self)


def invalid_value(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidValue")


def scim_response(body: object, status: int = 200) -> HttpResponse:
    """A SCIM JSON answer."""
    return HttpResponse(json.dumps(body), status=status, content_type=CONTENT_TYPE)


def error_response(error: ScimError) -> HttpResponse:
    body: dict[str, object] = {
        "schemas": [ERROR_SCHEMA],
        "status": str(error.status),
        "detail": error.detail,
    }
    if error.scim_type:
        body["scimType"] = error.scim_type
    response = scim_response(body, error.status)
    if error.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="agenwork SCIM"'
    if error.status == 503:
        response["Retry-After"] = "5"
    return response
