"""agenwork as the OAuth 2.1 authorization server of its MCP gateway: the glue around the toolkit.

- django-oauth-toolkit does the protocol (authorize, token, registration, metadata); the views
  here only add what MCP's authorization specification asks beyond it: tokens are issued for the
  gateway alone (RFC 8707 resource indicators), and registered clients are public.
- The gateway process checks an OAuth access token against the toolkit's table (tokens are
  stored as their SHA-256), mapping it to the console login's directory person.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_refresh_token_model,
)
from oauth2_provider.views import (
    AuthorizationView,
    DynamicClientRegistrationView,
    OAuthServerMetadataView,
    RevokeTokenView,
    TokenView,
)

from agenwork.context_processors import PERSON
from agenwork.crypto import hash_token
from audit.models import AuditEntry
from mcp_gateway.clients import cimd_refusal, registration_refusal
from mcp_gateway.connections import agent_audit, agent_connection_record, agent_connection_touch
from mcp_gateway.models import AgentConnection
from requests_app.selectors import approver_flow_ids

GATEWAY_SCOPE = "mcp"


def gateway_resource() -> str:
    """The gateway's resource identifier (RFC 8707): its MCP endpoint's URL."""
    return settings.MCP_GATEWAY_URL


def _resource_refusal(resources: list[str]) -> str:
    """Why these requested resources cannot be granted, or "" when they name the gateway."""
    if not resources:
        return f"Name the resource: this server issues tokens for {gateway_resource()} only."
    others = [r for r in resources if r.rstrip("/") != gateway_resource()]
    if others:
        return f"This server issues tokens for {gateway_resource()} only, not for {others[0]!r}."
    return ""


class AgentCors:
    """Any origin may call this endpoint from a page (the MCP Inspector does its OAuth there).

    Safe: these endpoints read no cookie; a client id, a code, a verifier or a token is the
    credential. Mixed in before the toolkit's view; the preflight is answered here.
    """

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "OPTIONS":
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response["Access-Control-Allow-Headers"] = (
                "Authorization, Content-Type, MCP-Protocol-Version"
            )
            response["Access-Control-Max-Age"] = "86400"
        else:
            response = super().dispatch(request, *args, **kwargs)
        response["Access-Control-Allow-Origin"] = "*"
        return response


class GatewayMetadataView(AgentCors, OAuthServerMetadataView):
    """The toolkit's authorization server metadata (RFC 8414), callable from a page."""


@method_decorator(csrf_exempt, name="dispatch")
class GatewayRevokeTokenView(AgentCors, RevokeTokenView):
    """The toolkit's token revocation (RFC 7009), callable from a page; audited when it revoked."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        before = _token_holder(request.POST.get("token", ""))
        response = super().post(request, *args, **kwargs)
        if (
            response.status_code == 200
            and before is not None
            and _token_holder(request.POST.get("token", "")) != before
        ):
            user, application, kind = before
            agent_audit(
                actor=user,
                action=AuditEntry.Action.REVOKED,
                application=application,
                client_id=application.client_id if application else "",
                who=_who(user),
                details={"by": f"the agent, revoking its {kind} (RFC 7009)"},
                channel="oauth",
            )
        return response


def _token_holder(raw: str) -> tuple[Any, Any, str] | None:
    """(login, application, "access token" | "refresh token") of a live token, or None."""
    if not raw:
        return None
    checksum = hash_token(raw)  # the toolkit keeps a token's SHA-256, as we do
    access = (
        get_access_token_model()
        .objects.select_related("user", "application")
        .filter(token_checksum=checksum)
        .first()
    )
    if access is not None and access.user is not None:
        return access.user, access.application, "access token"
    refresh = (
        get_refresh_token_model()
        .objects.select_related("user", "application")
        .filter(token_checksum=checksum, revoked__isnull=True)
        .first()
    )
    if refresh is not None:
        return refresh.user, refresh.application, "refresh token"
    return None


def _who(user: Any) -> str:
    if user is None or not getattr(user, "pk", None):
        return ""
    person = getattr(user, "person", None)
    return person.email if person else user.get_username()


class GatewayAuthorizationView(AuthorizationView):
    """The toolkit's authorize endpoint and consent page, for the gateway's resource only.

    - The consent's POST is audited whatever its answer: given, refused by the person, or refused
      here (another resource, a wrong redirect address). A GET changes nothing, the trail
      included: a request refused before any consent is the agent's error page, not a line.
    """

    template_name = "oauth2_provider/authorize.html"

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        refusal = _resource_refusal(request.GET.getlist("resource"))
        if request.GET.get("code_challenge") and request.GET.get("code_challenge_method") != "S256":
            # oauthlib takes a challenge without a method as "plain": ask nobody to consent to it
            refusal = 'PKCE takes code_challenge_method "S256" only.'
        if not refusal:
            refusal = cimd_refusal(request.GET.get("client_id", ""))
        if refusal:
            return _refused(request, refusal)
        if request.user.is_authenticated and approver_flow_ids(request.user) == []:
            request.console_role = PERSON  # the sidebar offers My agents alone
        response = super().get(request, *args, **kwargs)
        context = getattr(response, "context_data", None) or {}
        form = context.get("form")
        if response.status_code == 200 and form is not None:
            _let_the_form_reach(response, form.initial.get("redirect_uri", ""))
            application = context.get("application")
            if getattr(application, "registration_source", "") == "cimd":
                context["document_host"] = urlsplit(application.client_id).netloc
        return response

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        refusal = _resource_refusal(request.POST.get("resource", "").split())
        if refusal:
            return _refused(request, refusal)
        response = super().post(request, *args, **kwargs)
        query = urlsplit(response.get("Location", "")).query
        if "code=" in query:
            _audit_authorization(request)
        elif "error=access_denied" in query:
            _audit_refusal(
                request, request.POST, "The person refused the agent on the consent page."
            )
        elif error := _error_of(response, getattr(response, "context_data", None) or {}):
            _audit_refusal(request, request.POST, f"The consent was refused: {error}")
        return response


def _error_of(response: HttpResponse, context: dict[str, Any]) -> str:
    """The OAuth error an authorize answer carries (a page or a redirect), or ""."""
    error = context.get("error")  # the toolkit's oauthlib error, or our dict (_refused)
    if isinstance(error, dict):
        return str(error.get("description") or error.get("error") or "invalid request")
    if error is not None:
        return str(getattr(error, "description", "") or getattr(error, "error", error))
    query = parse_qs(urlsplit(response.get("Location", "")).query)
    if "error" in query:
        return (query.get("error_description") or query["error"])[0]
    return ""


def _audit_refusal(request: HttpRequest, params: Any, reason: str) -> None:
    """The Activity trail's entry for an authorization that granted nothing."""
    client_id = params.get("client_id", "")
    application = get_application_model().objects.filter(client_id=client_id).first()
    agent_audit(
        actor=request.user,
        action=AuditEntry.Action.REFUSED,
        application=application,
        client_id=client_id,
        who=_who(request.user),
        details={
            "reason": reason[:300],
            "redirect_uri": params.get("redirect_uri", ""),
            "resource": " ".join(params.getlist("resource")) if hasattr(params, "getlist") else "",
        },
    )


def _audit_authorization(request: HttpRequest) -> None:
    """The Activity trail's entry for a consent given: who let which agent in, back to where."""
    client_id = request.POST.get("client_id", "")
    application = get_application_model().objects.filter(client_id=client_id).first()
    if application is not None:
        agent_connection_record(user=request.user, application=application)
    agent_audit(
        actor=request.user,
        action=AuditEntry.Action.CREATED,
        application=application,
        client_id=client_id,
        who=_who(request.user),
        details={
            "redirect_uri": request.POST.get("redirect_uri", ""),
            "resource": request.POST.get("resource", ""),
            "scope": request.POST.get("scope", ""),
        },
    )


def _let_the_form_reach(response: HttpResponse, redirect_uri: str) -> None:
    """Widen the page's form-action to the client's checked redirect address.

    Browsers apply form-action to the redirect that follows a form's POST: with 'self' alone,
    Allow would stop at our own 302 to the agent.
    """
    parts = urlsplit(redirect_uri)
    if not parts.scheme:
        return
    source = f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}:"
    policy = settings.CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {source}"
    )
    response.headers["Content-Security-Policy"] = policy


def _refused(request: HttpRequest, description: str) -> HttpResponse:
    """The consent page's error, never a redirect: the client's redirect address is unchecked."""
    if request.method == "POST":  # a GET changes nothing, the trail included
        _audit_refusal(request, request.POST, description)
    error = {"error": "invalid_request", "description": description}
    return render(request, "oauth2_provider/authorize.html", {"error": error}, status=400)


@method_decorator(csrf_exempt, name="dispatch")
class GatewayTokenView(AgentCors, TokenView):
    """The toolkit's token endpoint; its every answer is JSON and says so.

    Some refusals (invalid_target, RFC 8707) come from the toolkit without a Content-Type.
    """

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        grant_type = request.POST.get("grant_type", "")
        presented = request.POST.get("refresh_token", "") if grant_type == "refresh_token" else ""
        reused = _reused_refresh_token(presented)
        response = super().post(request, *args, **kwargs)
        if not response.get("Content-Type", "").startswith("application/json"):
            response["Content-Type"] = "application/json"
        if response.status_code >= 400:
            _audit_token_refusal(request, response, grant_type, reused)
        return response


def _reused_refresh_token(raw: str) -> Any:
    """The already rotated (revoked) refresh token `raw` is, with its login and agent, or None."""
    if not raw:
        return None
    checksum = hash_token(raw)
    return (
        get_refresh_token_model()
        .objects.select_related("user", "application")
        .filter(token_checksum=checksum, revoked__isnull=False)
        .first()
    )


def _audit_token_refusal(
    request: HttpRequest, response: HttpResponse, grant_type: str, reused: Any
) -> None:
    """The Activity trail's entry for a refused code or refresh token; reuse revokes the family."""
    try:
        error = json.loads(response.content).get("error", "")
    except ValueError:
        error = ""
    client_id = request.POST.get("client_id", "")
    if reused is not None:
        agent_audit(
            actor=reused.user,
            action=AuditEntry.Action.REVOKED,
            application=reused.application,
            client_id=reused.application.client_id if reused.application else client_id,
            who=_who(reused.user),
            details={
                "by": "reuse detection: a rotated refresh token was presented again",
                "reason": "All of the agent's tokens of that sign-in are revoked.",
            },
            channel="oauth",
        )
        return
    reason = {
        "authorization_code": "An authorization code was refused (used already, expired, or "
        "with a wrong verifier, redirect address or resource).",
        "refresh_token": "A refresh token was refused (unknown, expired or revoked).",
    }.get(grant_type, f"A token request ({grant_type or 'no grant type'}) was refused.")
    application = get_application_model().objects.filter(client_id=client_id).first()
    if application is None:
        return  # no agent of ours: a request anyone can send, not worth a line
    agent_audit(
        actor="OAuth token endpoint",
        action=AuditEntry.Action.REFUSED,
        application=application,
        client_id=client_id,
        who="",
        details={"reason": reason, "error": error, "resource": request.POST.get("resource", "")},
        channel="oauth",
    )


@method_decorator(csrf_exempt, name="dispatch")
class GatewayClientRegistrationView(AgentCors, DynamicClientRegistrationView):
    """The toolkit's dynamic client registration (RFC 7591), for public code-flow clients only."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            metadata = json.loads(request.body)
        except ValueError:
            metadata = None
        refusal = registration_refusal(metadata) if isinstance(metadata, dict) else ""
        if refusal:
            return JsonResponse(
                {"error": "invalid_client_metadata", "error_description": refusal}, status=400
            )
        return super().post(request, *args, **kwargs)


@dataclass(frozen=True)
class OAuthCaller:
    """Who an OAuth access token speaks for, and what it was issued for."""

    email: str
    client_id: str
    scopes: list[str]
    resource: str | None
    expires_at: int


def oauth_token_authenticate(raw: str) -> OAuthCaller | None:
    """The caller of a usable OAuth access token whose login is a directory person, or None."""
    checksum = hash_token(raw)
    connection = AgentConnection.objects.filter(
        user=OuterRef("user"), application=OuterRef("application")
    )
    token = (
        get_access_token_model()
        .objects.select_related("application", "user__person")
        .annotate(connection_used=Subquery(connection.values("last_used_at")[:1]))
        .filter(token_checksum=checksum)
        .first()
    )
    if token is None or token.user is None or token.is_expired():
        return None
    person = getattr(token.user, "person", None)
    if person is None or not token.user.is_active:
        return None
    resources = token.resource or []
    resource = (
        gateway_resource() if gateway_resource() in resources else next(iter(resources), None)
    )
    if token.application_id is not None and resource == gateway_resource():
        agent_connection_touch(
            user_id=token.user_id,
            application_id=token.application_id,
            last_used_at=token.connection_used,
            since=token.created,
        )
    return OAuthCaller(
        email=person.email,
        client_id=token.application.client_id if token.application else "",
        scopes=token.scope.split(),
        resource=resource,
        expires_at=int(token.expires.timestamp()),
    )
