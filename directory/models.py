"""People and groups as the identity provider knows them, and their link to console logins."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class Person(models.Model):
    """An employee whose AI agents are governed; may also be an approver or a console user."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        LOCKED = "locked", "Locked"

    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254, unique=True)
    external_id = models.CharField(max_length=200, null=True, blank=True, unique=True)
    phone = models.CharField(max_length=32, blank=True, help_text="E.164, for SMS approvals")
    status = models.CharField(
        max_length=16,
        choices=Status.choices,
        default=Status.ACTIVE,
        help_text="Locked by an admin in the console; the identity provider never changes it.",
    )
    deactivated_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when the identity provider deactivates the person (import or SCIM).",
    )
    mfa_enabled = models.BooleanField(default=False)
    user_name = models.CharField(
        max_length=254,
        blank=True,
        help_text="The identity provider's userName (SCIM) as it sent it; blank: the email.",
    )
    scim_attributes = models.JSONField(
        default=dict,
        blank=True,
        help_text="The User attributes the identity provider last wrote over SCIM, as it sent "
        "them (name parts, displayName, emails, phone numbers, active); the fields above are "
        "derived from them.",
    )
    scim_deleted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when the identity provider deletes the user over SCIM: the person stays, "
        "deactivated, for the history; SCIM no longer shows them.",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="person",
        help_text="The console login of this person, if any.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(Lower("email"), name="person_email_lower"),
            models.Index(fields=["created_at", "id"], name="person_created"),
            models.Index(fields=["mfa_enabled", "email"], name="person_mfa_email"),
            models.Index(Lower("user_name"), name="person_user_name_lower"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    @property
    def is_locked(self) -> bool:
        return self.status == self.Status.LOCKED

    @property
    def is_deactivated(self) -> bool:
        return self.deactivated_at is not None

    @property
    def display_status(self) -> str:
        """What the Users page shows: Deactivated (by the IdP) before Locked (by an admin)."""
        if self.is_deactivated:
            return "deactivated"
        return self.status

    @property
    def initials(self) -> str:
        parts = [p for p in self.name.split() if p]
        return "".join(p[0] for p in parts[:2]).upper() or self.email[:1].upper()


class Group(models.Model):
    """A group of people from the identity provider (Sales, Engineering…)."""

    name = models.CharField(max_length=200, unique=True)
    external_id = models.CharField(max_length=200, null=True, blank=True, unique=True)
    description = models.CharField(max_length=500, blank=True)
    members = models.ManyToManyField(Person, related_name="groups", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ScimToken(models.Model):
    """The bearer credential of an identity provider's SCIM client (Okta, Entra ID).

    - Only a SHA-256 hash and a short prefix (to find the row) are stored, like gateway API keys;
      the two kinds of credential are told apart by their scheme and never work for each other.
    """

    name = models.CharField(max_length=100, unique=True)
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "SCIM token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class StepUpChallenge(models.Model):
    """A step-up the MCP gateway asked a person for: one link, short-lived, used once.

    - Only a SHA-256 hash of the link's token is stored; the raw token is in the gateway's answer.
    - `started_at`: when the person last sent themselves to the identity provider from the
      link's page; its answer must carry an `auth_time` no older than that.
    """

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    tool_key = models.CharField(max_length=200, blank=True, help_text="The call that asked for it")
    agent = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "step-up challenge"

    def __str__(self) -> str:
        return f"step-up of person {self.person_id} for {self.tool_key or 'a call'}"


class StepUp(models.Model):
    """A completed step-up: the person signed in again, when (`authenticated_at`) and how."""

    class Method(models.TextChoices):
        OIDC = "oidc", "Identity provider"
        PASSWORD = "password", "Console password"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="step_ups")
    challenge = models.OneToOneField(
        StepUpChallenge, null=True, blank=True, on_delete=models.SET_NULL, related_name="step_up"
    )
    method = models.CharField(max_length=16, choices=Method.choices)
    authenticated_at = models.DateTimeField(
        help_text="The identity provider's auth_time, or when the password was checked."
    )
    acr = models.CharField(max_length=200, blank=True)
    amr = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["person", "-authenticated_at"], name="stepup_person_time"),
        ]

    def __str__(self) -> str:
        return f"step-up of person {self.person_id} at {self.authenticated_at:%Y-%m-%d %H:%M}"
