"""The API's error shape: {"error": {"code", "message", "details"?}}."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse


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


def error_response(error: ApiError) -> JsonResponse:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.details:
        body["details"] = error.details
    response = JsonResponse({"error": body}, status=error.status)
    if error.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="agenwork"'
    if error.status == 503:
        response["Retry-After"] = "5"
    return response
