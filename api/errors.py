"""The API's error shape: {"error": {"code", "message", "details"?}}."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from api.contract import Error, ErrorBody


class ApiError(Exception):
    """An error the API answers with its status and code; nothing has been stored."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


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
