"""The step-up link's page: the person signs in again, then their agent repeats the call.

- GET shows (what asked, and the button or the password field); only POST starts or checks.
- With single sign-on the POST sends the person to the identity provider for a fresh login
  (`prompt=login`, `max_age=0`); its answer comes back through sso_callback to `step_up_finish`.
  Without it, the POST checks the person's console password, throttled like the login.
- Only the challenge's own person, signed in, may use it; anybody else gets a refusal page and
  nothing is written (a link a stranger holds cannot fill the Activity trail).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from directory.forms import StepUpPasswordForm
from directory.models import StepUp, StepUpChallenge
from directory.oidc import Finished, Provider, SignInBroken, configured_provider, signin_begin
from directory.signin import Identity, person_for_identity
from directory.step_up import (
    REFUSALS,
    StepUpRefused,
    auth_time_is_fresh,
    auth_time_of,
    challenge_find,
    challenge_problem,
    step_up_complete,
    step_up_refuse,
    step_up_start,
    step_up_window,
)

log = logging.getLogger(__name__)
TEMPLATE = "directory/step_up.html"
OIDC, PASSWORD = StepUp.Method.OIDC, StepUp.Method.PASSWORD


@require_http_methods(["GET", "POST"])
def step_up_page(request: HttpRequest, token: str) -> HttpResponse:
    """Show the step-up of this link to its person (GET), start or check it (POST)."""
    challenge = challenge_find(token)
    if challenge is None:
        raise Http404("No such step-up link.")
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not _is_theirs(request, challenge):
        log.warning(
            "step-up link of person %s opened by login %s", challenge.person_id, request.user.pk
        )
        return refused(request, "wrong_person")
    if challenge.completed_at is not None and request.method == "GET":
        return verified(request, challenge.step_up, used_again=True)
    provider = configured_provider()
    method = OIDC if provider else PASSWORD
    problem = challenge_problem(challenge)
    if problem:
        if request.method == "POST":
            step_up_refuse(challenge=challenge, user=request.user, reason=problem, method=method)
        return refused(request, problem)
    if request.method == "GET":
        form = None if provider else StepUpPasswordForm(request=request)
        return _page(request, challenge, provider, form)
    if provider:
        return _send_to_provider(request, challenge, provider)
    return _check_password(request, challenge)


def _is_theirs(request: HttpRequest, challenge: StepUpChallenge) -> bool:
    person = getattr(request.user, "person", None)
    return person is not None and person.pk == challenge.person_id


def _page(
    request: HttpRequest,
    challenge: StepUpChallenge,
    provider: Provider | None,
    form: StepUpPasswordForm | None,
    status: int = 200,
) -> HttpResponse:
    context = {"state": "ready", "challenge": challenge, "sso": provider, "form": form}
    return render(request, TEMPLATE, context, status=status)


def _send_to_provider(
    request: HttpRequest, challenge: StepUpChallenge, provider: Provider
) -> HttpResponse:
    """Start the step-up and send the browser to the provider for a fresh login.

    - Answered with a page that moves on by itself (`<meta http-equiv="refresh">`) and a link,
      not a redirect: the CSP's `form-action 'self'` stops a form whose answer leaves the site.
    """
    try:
        started_at = step_up_start(challenge=challenge, user=request.user, method=OIDC)
    except StepUpRefused as exc:
        return refused(request, exc.reason)
    try:
        url = signin_begin(
            request,
            provider,
            next_url="",
            step_up={"challenge": challenge.pk, "started_at": started_at.timestamp()},
            prompt="login",
            max_age="0",
        )
    except SignInBroken as exc:
        log.warning("step-up not started: %s", exc)
        return render(request, TEMPLATE, {"state": "unreachable", "sso": provider}, status=502)
    context = {"state": "continue", "challenge": challenge, "sso": provider, "provider_url": url}
    return render(request, TEMPLATE, context)


def _check_password(request: HttpRequest, challenge: StepUpChallenge) -> HttpResponse:
    """The local step-up: the person's console password again (no single sign-on)."""
    form = StepUpPasswordForm(request.POST, request=request)
    if not form.is_valid():
        if not form.throttled:
            step_up_refuse(
                challenge=challenge, user=request.user, reason="bad_password", method=PASSWORD
            )
        return _page(request, challenge, None, form, status=429 if form.throttled else 400)
    try:
        step_up = step_up_complete(
            challenge=challenge,
            user=request.user,
            method=PASSWORD,
            authenticated_at=timezone.now(),
        )
    except StepUpRefused as exc:
        step_up_refuse(challenge=challenge, user=request.user, reason=exc.reason, method=PASSWORD)
        return refused(request, exc.reason)
    return verified(request, step_up)


def step_up_finish(request: HttpRequest, provider: Provider, finished: Finished) -> HttpResponse:
    """The provider's answer to a step-up this session started: record it, or say why not.

    - The signed-in login must still be the challenge's person, the provider's subject must be
      that same person, and its `auth_time` no older than the moment the person left for it.
    """
    kept: dict[str, Any] = finished.step_up or {}
    challenge = (
        StepUpChallenge.objects.select_related("person").filter(pk=kept.get("challenge")).first()
    )
    if challenge is None:
        return refused(request, "used")
    claims, user = finished.claims, request.user
    reason = _oidc_refusal(request, challenge, provider, claims, kept)
    if reason:
        step_up_refuse(
            challenge=challenge,
            user=user if user.is_authenticated else claims.get("email") or "unknown",
            reason=reason,
            method=OIDC,
            detail=f"auth_time {claims.get('auth_time')!r}, subject {claims.get('sub')!r}",
        )
        return refused(request, reason)
    acr, amr = claims.get("acr"), claims.get("amr")
    try:
        step_up = step_up_complete(
            challenge=challenge,
            user=user,
            method=OIDC,
            authenticated_at=auth_time_of(claims.get("auth_time")) or timezone.now(),
            acr=acr if isinstance(acr, str) else "",
            amr=[str(a) for a in amr] if isinstance(amr, list) else [],
        )
    except StepUpRefused as exc:
        step_up_refuse(challenge=challenge, user=user, reason=exc.reason, method=OIDC)
        return refused(request, exc.reason)
    signin = request.session.get("signin") or {}
    fresh = {"auth_time": claims.get("auth_time"), "acr": acr, "amr": amr}
    request.session["signin"] = {**signin, **fresh}
    return verified(request, step_up)


def _oidc_refusal(
    request: HttpRequest,
    challenge: StepUpChallenge,
    provider: Provider,
    claims: dict[str, Any],
    kept: dict[str, Any],
) -> str:
    """Why this answer is no step-up of the challenge's person, or ""."""
    if not request.user.is_authenticated or not _is_theirs(request, challenge):
        return "wrong_person"
    identity = Identity.from_claims(claims, external_id_claim=provider.external_id_claim)
    verdict = person_for_identity(identity)
    if verdict.person is None or verdict.person.pk != challenge.person_id or verdict.refusal:
        return "wrong_subject"
    started = kept.get("started_at")
    if not isinstance(started, int | float):
        return "stale_auth_time"
    started_at = datetime.fromtimestamp(started, tz=UTC)
    now = timezone.now()
    if not auth_time_is_fresh(claims.get("auth_time"), started_at=started_at, now=now):
        return "stale_auth_time"
    return ""


def verified(
    request: HttpRequest, step_up: StepUp | None, used_again: bool = False
) -> HttpResponse:
    """The page that says the step-up is done and until when it lets the agent's calls through."""
    valid_until = step_up.authenticated_at + step_up_window() if step_up else None
    context = {
        "state": "verified",
        "step_up": step_up,
        "valid_until": valid_until,
        "still_valid": valid_until is not None and valid_until > timezone.now(),
        "used_again": used_again,
    }
    return render(request, TEMPLATE, context)


def refused(request: HttpRequest, reason: str) -> HttpResponse:
    """The page that says why this step-up cannot go on, with its status."""
    refusal = REFUSALS[reason]
    context = {"state": "refused", "refusal": refusal, "reason": reason}
    return render(request, TEMPLATE, context, status=refusal.status)
