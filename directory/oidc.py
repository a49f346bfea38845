"""The console's OpenID Connect client: the protocol is Authlib's, the rules about it are here.

- Endpoints and keys come from the issuer's discovery document, fetched once per process; its
  `issuer` must be OIDC_ISSUER exactly (no provider may speak for another).
- Authorization code flow with PKCE (S256), `state` and `nonce`, kept in the session by Authlib
  under the state's name; the redirect URI is SITE_URL's, never the request's Host header.
- The ID token is checked by Authlib (signature against the provider's keys, `iss`, `aud`,
  `exp`, `nonce`). Claims the ID token leaves out (email, email_verified) are read from the
  userinfo endpoint, which must name the same `sub`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.django_client import OAuth
from authlib.integrations.django_client.apps import DjangoOAuth2App
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from joserfc.errors import JoseError

log = logging.getLogger(__name__)

CLIENT_NAME = "oidc"
STATE_PREFIX = f"_state_{CLIENT_NAME}_"
DISCOVERY_PATH = "/.well-known/openid-configuration"


@dataclass(frozen=True)
class Provider:
    """The company's identity provider as the settings describe it."""

    issuer: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    name: str
    external_id_claim: str
    timeout: int


class SignInBroken(Exception):
    """The sign-in could not be completed; `reason` is a refusal code, `detail` for the log."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def configured_provider() -> Provider | None:
    """The provider of the settings, or None when single sign-on is not configured."""
    if not settings.OIDC_ISSUER:
        return None
    return Provider(
        issuer=settings.OIDC_ISSUER,
        client_id=settings.OIDC_CLIENT_ID,
        client_secret=settings.OIDC_CLIENT_SECRET,
        scopes=tuple(settings.OIDC_SCOPES),
        name=settings.OIDC_PROVIDER_NAME,
        external_id_claim=settings.OIDC_EXTERNAL_ID_CLAIM,
        timeout=settings.OIDC_TIMEOUT_SECONDS,
    )


@cache
def _client(provider: Provider) -> DjangoOAuth2App:
    """One Authlib client per provider and process: it keeps the discovery document and keys."""
    return OAuth().register(
        CLIENT_NAME,
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        server_metadata_url=provider.issuer.rstrip("/") + DISCOVERY_PATH,
        client_kwargs={
            "scope": " ".join(provider.scopes),
            "code_challenge_method": "S256",
            "default_timeout": provider.timeout,
        },
    )


def client_for(provider: Provider) -> DjangoOAuth2App:
    """The provider's client, its discovery document loaded and its issuer checked."""
    client = _client(provider)
    try:
        metadata = client.load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        raise SignInBroken("provider_unreachable", f"discovery: {exc}") from exc
    if metadata.get("issuer") != provider.issuer:
        _client.cache_clear()  # read it again next time: the provider may be fixed meanwhile
        raise SignInBroken(
            "provider_misconfigured",
            f"the discovery document names issuer {metadata.get('issuer')!r}, "
            f"OIDC_ISSUER is {provider.issuer!r}",
        )
    return client


def redirect_uri() -> str:
    """The one redirect URI registered at the provider: SITE_URL's callback."""
    return settings.SITE_URL + reverse("sso:callback")


def signin_begin(
    request: HttpRequest,
    provider: Provider,
    *,
    next_url: str,
    step_up: dict[str, Any] | None = None,
    **params: str,
) -> str:
    """Start a sign-in: keep its state, nonce and PKCE verifier in the session; the URL to go to.

    - `params` go to the authorization URL as they are (a step-up's `prompt=login`, `max_age`).
    - `step_up`: kept with the state, and given back by signin_finish: this sign-in is a
      step-up (directory/step_up.py), not a login.
    """
    client = client_for(provider)
    uri = redirect_uri()
    try:
        found = client.create_authorization_url(uri, **params)
    except (AuthlibBaseError, RuntimeError) as exc:
        raise SignInBroken("provider_misconfigured", str(exc)) from exc
    kept = {"step_up": step_up} if step_up else {}
    client.save_authorize_data(request, redirect_uri=uri, next_url=next_url, **kept, **found)
    return found["url"]


def pending_signins(request: HttpRequest) -> int:
    """How many sign-ins this session has started and not finished."""
    keys = request.session.keys()  # a session is not iterable itself
    return sum(1 for key in keys if key.startswith(STATE_PREFIX))


@dataclass(frozen=True)
class Finished:
    """A sign-in the provider answered: its verified claims, where the person was going, and
    the step-up it was for, if it was one."""

    claims: dict[str, Any]
    next_url: str
    step_up: dict[str, Any] | None


def signin_finish(request: HttpRequest, provider: Provider) -> Finished:
    """The verified claims of the person the provider signed in, and where they were going.

    - Raises SignInBroken for an unknown or spent state (a replayed or forged callback), an
      error from the provider, a refused code, or an ID token that fails its checks.
    """
    client = client_for(provider)
    state = request.GET.get("state", "")
    pending = client.framework.get_state_data(request.session, state) if state else None
    if not pending:
        raise SignInBroken("state_mismatch", "no sign-in of this session has that state")
    if "iss" in request.GET and request.GET["iss"] != provider.issuer:  # RFC 9207
        raise SignInBroken("state_mismatch", f"answer from issuer {request.GET['iss']!r}")
    if request.GET.get("error"):
        client.framework.clear_state_data(request.session, state)
        raise SignInBroken("provider_error", request.GET["error"][:100])
    try:
        token = client.authorize_access_token(request)
    except requests.RequestException as exc:
        raise SignInBroken("provider_unreachable", f"token: {exc}") from exc
    except (AuthlibBaseError, JoseError, ValueError, KeyError) as exc:
        raise SignInBroken("token_refused", str(exc)[:200]) from exc
    claims = dict(token.get("userinfo") or {})
    if not claims.get("sub"):
        raise SignInBroken("token_refused", "no ID token")
    return Finished(
        claims=_with_userinfo(client, token, claims),
        next_url=pending.get("next_url") or "",
        step_up=pending.get("step_up"),
    )


def _with_userinfo(
    client: DjangoOAuth2App, token: Mapping[str, Any], claims: dict[str, Any]
) -> dict[str, Any]:
    """The ID token's claims, completed from the userinfo endpoint when they lack the email."""
    if "email" in claims or not client.server_metadata.get("userinfo_endpoint"):
        return claims
    try:
        userinfo = dict(client.userinfo(token=token))
    except (requests.RequestException, AuthlibBaseError, ValueError) as exc:
        raise SignInBroken("provider_unreachable", f"userinfo: {exc}") from exc
    if userinfo.get("sub") != claims["sub"]:  # OpenID Connect Core 5.3.2
        raise SignInBroken("token_refused", "userinfo names another subject")
    return {**userinfo, **claims}
