"""People and groups as the identity provider knows them, and their link to console logins."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class Person(models.Model):
    """An employee whose AI agents are governed; may also be an approver or a console user."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        LOCKED = "locked", "Locked"

    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254, unique=True)
    external_id = models.CharField(max_length=200, null=True, blank=True, unique=True)
    phone = models.CharField(max_length=32, blank=True, help_text="E.164, for SMS approvals")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    mfa_enabled = models.BooleanField(default=False)
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
        indexes = [models.Index(Lower("email"), name="person_email_lower")]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    @property
    def is_locked(self) -> bool:
        return self.status == self.Status.LOCKED

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
