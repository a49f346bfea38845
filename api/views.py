"""The gateway API (/api/v1/): JSON in and out, a bearer API key, errors in one shape."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt

from agenwork.endpoints import BearerApi
from api.auth import key_and_snapshot_version
from api.contract import Decision, RequestRef, ToolDecision
from api.errors import ApiError
from api.openapi import openapi_document
from api.validation import parse_decision_body
from gateways.models import ApiKey
from gateways.services import api_key_authenticate
from policies.evaluation import Call, UnknownConnector, UnknownTool
from requests_app.decisions import decide_call
from requests_app.models import AccessRequest
from requests_app.serializers import request_payload, request_urls
from requests_app.services import (
    Actor,
    RequestAlreadyDecided,
    RequestNotConsumable,
    request_cancel,
    request_consume,
)

MAX_BODY_BYTES = 64 * 1024
# The OpenAPI document and its docs page are the same for everyone and change only with a
# release (the API is versioned in its URL): browsers and proxies may keep them for an hour.
public_for_an_hour = cache_control(public=True, max_age=3600)


def _api_key(raw_key: str) -> ApiKey | None:
    return api_key_authenticate(raw_key, lookup=key_and_snapshot_version)


API = BearerApi(
    name="API",
    error=ApiError,
    find_caller=_api_key,
    unauthorized="Send a valid API key: Authorization: Bearer <key>.",
)


def _json_body(request: HttpRequest) -> Any:
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError as exc:
        raise ApiError(400, "invalid_request", "Content-Length is not a number.") from exc
    if declared > MAX_BODY_BYTES or len(request.body) > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", "The body is over 64 KB.")
    try:
        body = json.loads(request.body, parse_constant=_reject_constant)
        # What PostgreSQL cannot store is refused here, not met later as a 500: a lone surrogate
        # ("\ud800") cannot be encoded as UTF-8, and 1e400 parses as inf (not JSON).
        json.dumps(body, ensure_ascii=False, allow_nan=False).encode()
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeError too
        raise ApiError(400, "invalid_json", f"The body is not valid JSON: {exc}") from exc
    return body


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _own_request(api_key: ApiKey, public_id: str) -> AccessRequest:
    try:
        uuid = UUID(public_id)
    except ValueError:
        uuid = None
    found = (
        AccessRequest.objects.filter(public_id=uuid, api_key=api_key)
        .prefetch_related("tools__tool")
        .first()
        if uuid
        else None
    )
    if found is None:
        raise ApiError(404, "not_found", "No request with this id was created with this key.")
    return found


@API.endpoint("POST")
def decisions(request: HttpRequest, api_key: ApiKey) -> HttpResponse:
    """Decide a tool call: allow, deny, step_up or approval_required (with its request)."""
    data = parse_decision_body(_json_body(request))
    step_up_at = data.step_up.authenticated_at if data.step_up else None
    call = Call(
        user=data.user, connector=data.connector, tools=tuple(data.tools), step_up_at=step_up_at
    )
    try:
        outcome = decide_call(
            call=call,
            api_key=api_key,
            note=data.note or "",
            agent=data.agent or "",
            arguments=data.arguments,
            snapshot_version=api_key.snapshot_version,
        )
    except UnknownConnector as exc:
        raise ApiError(422, "unknown_connector", str(exc), {"connector": data.connector}) from exc
    except UnknownTool as exc:
        raise ApiError(422, "unknown_tool", str(exc), {"tools": list(exc.keys)}) from exc
    decision, access_request = outcome.decision, outcome.access_request
    answer = Decision(
        decision=decision.decision,
        reason_code=decision.reason_code,
        reason=decision.reason,
        tools=[
            ToolDecision(
                tool=t.tool, decision=t.decision, policy_id=t.policy_id, reason_code=t.reason_code
            )
            for t in decision.tools
        ],
        request=(
            RequestRef(
                id=access_request.public_id,
                status=access_request.status,
                **request_urls(access_request),
            )
            if access_request
            else None
        ),
    )
    return HttpResponse(answer.model_dump_json(), content_type="application/json")


@API.endpoint("GET")
def request_status(request: HttpRequest, api_key: ApiKey, public_id: str) -> JsonResponse:
    """The request's status, per tool, and who decided, when and how."""
    return JsonResponse(request_payload(_own_request(api_key, public_id)))


@API.endpoint("POST")
def request_consume_view(request: HttpRequest, api_key: ApiKey, public_id: str) -> JsonResponse:
    """Use a one-time approval: 200 once, 409 afterwards or when it is not approved."""
    access_request = _own_request(api_key, public_id)
    try:
        access_request = request_consume(access_request=access_request, actor=_actor(api_key))
    except RequestNotConsumable as exc:
        access_request.refresh_from_db()  # a racing call may have consumed it since we read it
        raise ApiError(
            409,
            "conflict",
            f"This request is {access_request.get_status_display().lower()}"
            + (" and was consumed already." if access_request.consumed_at else "; nothing to use."),
            {"status": access_request.status},
        ) from exc
    return JsonResponse(request_payload(access_request))


@API.endpoint("POST")
def request_cancel_view(request: HttpRequest, api_key: ApiKey, public_id: str) -> JsonResponse:
    """Cancel a pending request (the agent gave up); 409 when it is no longer pending."""
    access_request = _own_request(api_key, public_id)
    try:
        access_request = request_cancel(access_request=access_request, actor=_actor(api_key))
    except RequestAlreadyDecided as exc:
        raise ApiError(
            409, "conflict", f"Not pending any more: {exc}.", {"status": exc.access_request.status}
        ) from exc
    return JsonResponse(request_payload(access_request))


def _actor(api_key: ApiKey) -> Actor:
    return Actor(name=f"Gateway {api_key.name}", channel="api")


@public_for_an_hour
def openapi(request: HttpRequest) -> JsonResponse:
    """The OpenAPI 3.1 description of this API."""
    return JsonResponse(openapi_document(), json_dumps_params={"indent": 2})


@public_for_an_hour
def docs(request: HttpRequest) -> HttpResponse:
    """The API reference for gateway authors, rendered from the OpenAPI document."""
    return render(request, "api/docs.html", {"spec": openapi_document()})


@csrf_exempt  # a gateway POSTing to a mistyped URL gets the API's JSON 404, not a CSRF page
def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    return ApiError(404, "not_found", "There is no API endpoint at this URL.").response()
