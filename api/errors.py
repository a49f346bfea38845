"""The API's error shape: {"error": {"code", "message", "details"?}}."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from agenwork.endpoints import Refusal
from api.contract import Error, ErrorBody

# The codes of the refusals every endpoint makes alike (agenwork.endpoints).
CODES = {401: "unauthorized", 405: "method_not_allowed", 500: "internal_error", 503: "unavailable"}


class ApiError(Refusal):
    """An error the API answers with its status and code; nothing has been stored."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    @classmethod
    def of(cls, status: int, message: str) -> ApiError:
        return cls(status, CODES[status], message)

    def response(self) -> HttpResponse:
        return error_response(self)


def error_response(error: ApiError) -> HttpResponse:
    """The error's answer: its status, and the body the Error model describes."""
    body = ErrorBody(code=error.code, message=error.message, details=error.details or None)
    response = HttpResponse(
        Error(error=body).model_dump_json(exclude_none=True),
        status=error.status,
        content_type="application/json",
    )
    if error.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="agenwork"'
    if error.status == 503:
        response["Retry-After"] = "5"
    return response
