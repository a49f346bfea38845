"""Who a sign-in through the identity provider is: a person of the directory, or nobody.

- A person is found by the external id claim (OIDC_EXTERNAL_ID_CLAIM, `sub` by default) against
  `Person.external_id`, else by an email the provider says it verified (`email_verified`),
  compared without case. An unverified email matches nobody: anybody may type one.
- Nobody outside the directory gets in, nor a deactivated or locked person, nor a console login
  an admin disabled: a refusal creates nothing and leaves one line in the audit trail.
- A matched person without a console login gets one, linked to them: no password (the local
  login stays closed to it), never staff. Roles stay the console's: admin is a staff login an
  admin made so, approver is a person on a flow's level; the provider grants neither.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models.functions import Lower

from audit.models import AuditEntry
from audit.services import audit_record
from directory.models import Person

CHANNEL = "oidc"
LOCAL_CHANNEL = "password"


@dataclass(frozen=True)
class Refusal:
    """What the refusal page says for one reason, and its HTTP status."""

    status: int
    title: str
    message: str


REFUSALS: dict[str, Refusal] = {
    "not_in_directory": Refusal(
        403,
        "You are not in agenwork's directory",
        "Your company's directory does not list you, so agenwork cannot sign you in. If you "
        "need agenwork, ask your IT team to add you to the directory it reads from the "
        "identity provider, then sign in again.",
    ),
    "email_not_verified": Refusal(
        403,
        "Your email address is not verified",
        "Your identity provider does not say that it verified the email address of your "
        "account, so agenwork cannot tell which person of the directory you are. Ask your IT "
        "team to verify it, then sign in again.",
    ),
    "deactivated": Refusal(
        403,
        "Your account is deactivated",
        "Your company's directory lists you as deactivated, so agenwork cannot sign you in.",
    ),
    "locked": Refusal(
        403,
        "Your access is locked",
        "An agenwork admin has locked your access. Ask them to unlock it.",
    ),
    "login_disabled": Refusal(
        403,
        "Your console login is disabled",
        "An agenwork admin has disabled your console login. Ask them to enable it.",
    ),
    "state_mismatch": Refusal(
        400,
        "This sign-in cannot be finished",
        "This sign-in was already used, has expired, or was not started in this browser. "
        "Start again from the login page.",
    ),
    "provider_error": Refusal(
        400,
        "You were not signed in",
        "The identity provider did not sign you in. Start again from the login page.",
    ),
    "token_refused": Refusal(
        400,
        "You were not signed in",
        "The identity provider's answer did not pass agenwork's checks. Start again from the "
        "login page; if it keeps failing, tell an agenwork admin.",
    ),
    "provider_unreachable": Refusal(
        502,
        "The identity provider did not answer",
        "agenwork could not reach the identity provider. Try again in a minute.",
    ),
    "provider_misconfigured": Refusal(
        502,
        "Single sign-on is not set up correctly",
        "agenwork's settings and the identity provider disagree. Tell an agenwork admin.",
    ),
}


@dataclass(frozen=True)
class Identity:
    """What the provider says about the person who signed in."""

    subject: str
    email: str
    email_verified: bool
    external_id: str
    name: str

    @classmethod
    def from_claims(cls, claims: dict[str, Any], *, external_id_claim: str) -> Identity:
        verified = claims.get("email_verified")
        external_id = claims.get(external_id_claim)
        return cls(
            subject=str(claims.get("sub", "")),
            email=str(claims.get("email") or "").strip(),
            # Some providers send the boolean as a string.
            email_verified=verified is True or str(verified).lower() == "true",
            external_id=str(external_id) if isinstance(external_id, str | int) else "",
            name=str(claims.get("name") or ""),
        )

    def state(self) -> dict[str, Any]:
        """What the audit trail keeps of it."""
        return {
            "subject": self.subject,
            "email": self.email,
            "email_verified": self.email_verified,
            "external_id": self.external_id,
        }


@dataclass(frozen=True)
class Verdict:
    """The person a sign-in is, how they were found, or why nobody may sign in."""

    person: Person | None
    matched_by: str = ""
    refusal: str = ""


def person_for_identity(identity: Identity) -> Verdict:
    """The directory's person for this identity, or the refusal (with the person, if found)."""
    people = Person.objects.select_related("user")
    person, matched_by = None, ""
    if identity.external_id:
        person = people.filter(external_id=identity.external_id).first()
        matched_by = "external_id"
    if person is None:
        if not identity.email:
            return Verdict(None, refusal="not_in_directory")
        if not identity.email_verified:
            return Verdict(None, refusal="email_not_verified")
        person = (
            people.alias(email_lower=Lower("email"))
            .filter(email_lower=identity.email.lower())
            .first()
        )
        matched_by = "email"
    if person is None:
        return Verdict(None, refusal="not_in_directory")
    if person.is_deactivated:
        return Verdict(person, matched_by, "deactivated")
    if person.is_locked:
        return Verdict(person, matched_by, "locked")
    if person.user is not None and not person.user.is_active:
        return Verdict(person, matched_by, "login_disabled")
    return Verdict(person, matched_by)


def signin_accept(*, person: Person, identity: Identity, matched_by: str) -> AbstractBaseUser:
    """The console login of a person the provider signed in: theirs, or a new one linked to them.

    - The person's row is locked while the login is made: two sign-ins at once make one login.
    """
    with transaction.atomic():
        locked = Person.objects.select_for_update(of=("self",)).select_related("user")
        person = locked.get(pk=person.pk)
        created = person.user is None
        if created:
            person.user = get_user_model().objects.create_user(
                username=_free_username(person), email=person.email
            )
            person.save(update_fields=["user", "updated_at"])
        audit_record(
            actor=person.user,
            action=AuditEntry.Action.SIGNED_IN,
            object_type="person",
            object_id=person.pk,
            object_repr=str(person),
            after={
                "login": person.user.get_username(),
                "login_created": created,
                "matched_by": matched_by,
                **identity.state(),
            },
            channel=CHANNEL,
        )
    return person.user


def _free_username(person: Person) -> str:
    """The email as the username, unless a login already has it (never take that login over)."""
    users = get_user_model().objects
    for candidate in (person.email[:150], f"{person.email[:130]}-{person.pk}"):
        if not users.filter(username=candidate).exists():
            return candidate
    return f"person-{person.pk}-{secrets.token_hex(4)}"


def signin_refuse(
    *, reason: str, identity: Identity | None, person: Person | None = None, detail: str = ""
) -> None:
    """Record a refused sign-in: why, and what the provider said, if it said anything."""
    claimed = identity.email or identity.subject if identity else ""
    audit_record(
        actor=claimed or "unknown",
        action=AuditEntry.Action.REFUSED,
        object_type="person" if person else "sign_in",
        object_id=person.pk if person else (identity.subject[:64] if identity else ""),
        object_repr=str(person) if person else (claimed or "sign-in"),
        after={"reason": reason, **(identity.state() if identity else {}), "detail": detail[:200]},
        channel=CHANNEL,
    )


def signin_password_record(*, user: AbstractBaseUser) -> None:
    """Record a sign-in with a local password (break-glass, `make run`): which login, whose."""
    person = getattr(user, "person", None)
    audit_record(
        actor=user,
        action=AuditEntry.Action.SIGNED_IN,
        object_type="person" if person else "login",
        object_id=person.pk if person else user.pk,
        object_repr=str(person) if person else user.get_username(),
        after={"login": user.get_username(), "method": "password"},
        channel=LOCAL_CHANNEL,
    )
