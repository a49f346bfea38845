"""agenwork as the OAuth 2.1 authorization server of its MCP gateway: the glue around the toolkit.

- django-oauth-toolkit does the protocol (authorize, token, registration, metadata); the views
  here only add what MCP's authorization specification asks beyond it: tokens are issued for the
  gateway alone (RFC 8707 resource indicators), and registered clients are public.
- The gateway process checks an OAuth access token against the toolkit's table (tokens are
  stored as their SHA-256), mapping it to the console login's directory person.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.models import get_access_token_model, get_application_model
from oauth2_provider.views import (
    AuthorizationView,
    DynamicClientRegistrationView,
    OAuthServerMetadataView,
    RevokeTokenView,
    TokenView,
)

from audit.models import AuditEntry
from audit.services import audit_record

GATEWAY_SCOPE = "mcp"
CODE_FLOW_GRANTS = {"authorization_code", "refresh_token"}
LOOPBACK = {"localhost", "127.0.0.1", "::1"}


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
    """The toolkit's token revocation (RFC 7009), callable from a page."""


class GatewayAuthorizationView(AuthorizationView):
    """The toolkit's authorize endpoint and consent page, for the gateway's resource only."""

    template_name = "oauth2_provider/authorize.html"

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        refusal = _resource_refusal(request.GET.getlist("resource"))
        if request.GET.get("code_challenge") and request.GET.get("code_challenge_method") != "S256":
            # oauthlib takes a challenge without a method as "plain": ask nobody to consent to it
            refusal = 'PKCE takes code_challenge_method "S256" only.'
        if refusal:
            return _refused(request, refusal)
        response = super().get(request, *args, **kwargs)
        form = (getattr(response, "context_data", None) or {}).get("form")
        if response.status_code == 200 and form is not None:
            _let_the_form_reach(response, form.initial.get("redirect_uri", ""))
        return response

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        refusal = _resource_refusal(request.POST.get("resource", "").split())
        if refusal:
            return _refused(request, refusal)
        response = super().post(request, *args, **kwargs)
        if "code=" in urlsplit(response.get("Location", "")).query:
            _audit_authorization(request)
        return response


def _audit_authorization(request: HttpRequest) -> None:
    """The Activity trail's entry for a consent given: who let which agent in, back to where."""
    client_id = request.POST.get("client_id", "")
    app = get_application_model().objects.filter(client_id=client_id).first()
    name = (app.name if app else "") or "an unnamed agent"
    person = getattr(request.user, "person", None)
    who = person.email if person else request.user.get_username()
    audit_record(
        actor=request.user,
        action=AuditEntry.Action.CREATED,
        object_type="agent_authorization",
        object_id=client_id,
        object_repr=f"{name} for {who}"[:200],
        after={
            "client": name,
            "client_id": client_id,
            "redirect_uri": request.POST.get("redirect_uri", ""),
            "resource": request.POST.get("resource", ""),
            "scope": request.POST.get("scope", ""),
            "person": who,
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
    error = {"error": "invalid_request", "description": description}
    return render(request, "oauth2_provider/authorize.html", {"error": error}, status=400)


@method_decorator(csrf_exempt, name="dispatch")
class GatewayTokenView(AgentCors, TokenView):
    """The toolkit's token endpoint; its every answer is JSON and says so.

    Some refusals (invalid_target, RFC 8707) come from the toolkit without a Content-Type.
    """

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        if not response.get("Content-Type", "").startswith("application/json"):
            response["Content-Type"] = "application/json"
        return response


@method_decorator(csrf_exempt, name="dispatch")
class GatewayClientRegistrationView(AgentCors, DynamicClientRegistrationView):
    """The toolkit's dynamic client registration (RFC 7591), for public code-flow clients only."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            metadata = json.loads(request.body)
        except ValueError:
            metadata = None
        refusal = _registration_refusal(metadata) if isinstance(metadata, dict) else ""
        if refusal:
            return JsonResponse(
                {"error": "invalid_client_metadata", "error_description": refusal}, status=400
            )
        return super().post(request, *args, **kwargs)


def _registration_refusal(metadata: dict) -> str:
    """What this server does not register (the toolkit checks the rest), or ""."""
    if metadata.get("token_endpoint_auth_method") != "none":
        return 'Register a public client: token_endpoint_auth_method "none", with PKCE.'
    grant_types = metadata.get("grant_types", ["authorization_code"])
    if isinstance(grant_types, list) and not set(grant_types) <= CODE_FLOW_GRANTS:
        return "grant_types may be authorization_code and refresh_token only."
    redirect_uris = metadata.get("redirect_uris")
    for uri in redirect_uris if isinstance(redirect_uris, list) else []:
        parts = urlsplit(uri) if isinstance(uri, str) else None
        if parts and parts.scheme == "http" and parts.hostname not in LOOPBACK:
            return f"{uri!r}: an http redirect address must be on this machine (localhost)."
    response_types = metadata.get("response_types", ["code"])
    if isinstance(response_types, list) and response_types != ["code"]:
        return 'response_types may be ["code"] only.'
    return ""


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
    checksum = hashlib.sha256(raw.encode()).hexdigest()
    token = (
        get_access_token_model()
        .objects.select_related("application", "user__person")
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
    return OAuthCaller(
        email=person.email,
        client_id=token.application.client_id if token.application else "",
        scopes=token.scope.split(),
        resource=resource,
        expires_at=int(token.expires.timestamp()),
    )
