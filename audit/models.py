"""The audit trail of admin changes: who changed what, from what to what, when, through what."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    """One change to a policy, flow, connector, person, group or key, or a sign-in. Append-only."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        DELETED = "deleted", "Deleted"
        REVOKED = "revoked", "Revoked"
        LOCKED = "locked", "Locked"
        UNLOCKED = "unlocked", "Unlocked"
        SIGNED_IN = "signed_in", "Signed in"
        REFUSED = "refused", "Sign-in refused"
        STEP_UP_STARTED = "step_up_started", "Step-up started"
        STEPPED_UP = "stepped_up", "Stepped up"
        STEP_UP_REFUSED = "step_up_refused", "Step-up refused"

    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=200, blank=True)
    channel = models.CharField(max_length=16, default="web")
    action = models.CharField(max_length=16, choices=Action.choices)
    object_type = models.CharField(max_length=50, help_text="e.g. policy, approval_flow, api_key")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="audit_time"),
            models.Index(fields=["object_type", "object_id", "-created_at"], name="audit_object"),
            models.Index(fields=["actor", "-created_at"], name="audit_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_name or 'system'} {self.action} {self.object_type} {self.object_repr}"
