"""Signing in to the console: the login page, and the sign-in through the identity provider."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.views import LoginView
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET

from agenwork.login_throttle import ThrottledAuthenticationForm
from directory.oidc import (
    Provider,
    SignInBroken,
    configured_provider,
    pending_signins,
    signin_begin,
    signin_finish,
)
from directory.signin import (
    REFUSALS,
    Identity,
    person_for_identity,
    signin_accept,
    signin_password_record,
    signin_refuse,
)
from directory.views_step_up import step_up_finish

log = logging.getLogger(__name__)
BACKEND = "directory.auth.PersonLoginBackend"


class ConsoleLoginView(LoginView):
    """Django's login page, with "Sign in with <provider>" above it when single sign-on is set."""

    redirect_authenticated_user = True
    authentication_form = ThrottledAuthenticationForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "sso": configured_provider()}

    def form_valid(self, form: Any) -> HttpResponse:
        """Log in, and put the password sign-in in the audit trail like any other."""
        response = super().form_valid(form)
        signin_password_record(user=form.get_user())
        return response


def _provider() -> Provider:
    provider = configured_provider()
    if provider is None:
        raise Http404("Single sign-on is not configured.")
    return provider


def _safe_next(request: HttpRequest, next_url: str) -> str:
    """`next` if it stays on this site, else "" (no open redirect through the sign-in)."""
    allowed = url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return next_url if next_url and allowed else ""


@require_GET
def sso_start(request: HttpRequest) -> HttpResponse:
    """Send the browser to the identity provider, the sign-in's state kept in its session.

    - A link, not a form: the CSP's `form-action 'self'` holds a form whose answer redirects to
      another site, and providers redirect on (Entra ID to a federated one). It writes nothing
      but the visitor's own session; started by somebody else, it can only end with the
      visitor signed in as themselves (the answer must match this session's state and PKCE).
    """
    provider = _provider()
    try:
        url = signin_begin(
            request, provider, next_url=_safe_next(request, request.GET.get("next", ""))
        )
    except SignInBroken as exc:
        log.warning("sign-in not started: %s", exc)
        return refused(request, provider, exc.reason)
    return HttpResponseRedirect(url)


@require_GET
def sso_callback(request: HttpRequest) -> HttpResponse:
    """Where the provider sends the browser back: a person of the directory signs in, or not.

    - A refusal of a sign-in this session started is audited; a callback that no sign-in of
      this session awaits (forged, replayed) is refused and only logged, so that nobody can fill
      the audit trail with GETs.
    """
    provider = _provider()
    started = pending_signins(request) > 0
    try:
        finished = signin_finish(request, provider)
    except SignInBroken as exc:
        log.warning("sign-in refused: %s", exc)
        if started:
            signin_refuse(reason=exc.reason, identity=None, detail=exc.detail)
        return refused(request, provider, exc.reason)
    if finished.step_up:  # a signed-in person signing in again for a step-up: no new login
        return step_up_finish(request, provider, finished)
    claims, next_url = finished.claims, finished.next_url
    identity = Identity.from_claims(claims, external_id_claim=provider.external_id_claim)
    verdict = person_for_identity(identity)
    if verdict.refusal or verdict.person is None:
        reason = verdict.refusal or "not_in_directory"
        signin_refuse(reason=reason, identity=identity, person=verdict.person)
        return refused(request, provider, reason)
    user = signin_accept(person=verdict.person, identity=identity, matched_by=verdict.matched_by)
    login(request, user, backend=BACKEND)
    # What a step-up check or the session's page will want to know about this sign-in.
    request.session["signin"] = {
        "method": "oidc",
        "issuer": provider.issuer,
        "subject": identity.subject,
        "auth_time": claims.get("auth_time"),
        "acr": claims.get("acr"),
        "amr": claims.get("amr"),
    }
    return HttpResponseRedirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))


def refused(request: HttpRequest, provider: Provider, reason: str) -> HttpResponse:
    """The page that says why this sign-in did not happen, with its status."""
    refusal = REFUSALS[reason]
    return render(
        request,
        "directory/signin_refused.html",
        {"refusal": refusal, "reason": reason, "sso": provider},
        status=refusal.status,
    )
