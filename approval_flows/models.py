"""Approval flows: who is asked to approve, through which channels, and on what clock."""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.db.models import Q

from directory.models import Group, Person


class ApprovalFlow(models.Model):
    """How the requests of a Request approval policy are routed to people."""

    class TimeoutAction(models.TextChoices):
        AUTO_APPROVE = "auto_approve", "Auto-approve"
        DENY = "deny", "Deny"
        EXPIRE = "expire", "Expire"

    name = models.CharField(max_length=200, unique=True)
    description = models.CharField(max_length=500, blank=True)
    channel_email = models.BooleanField(default=True)
    channel_sms = models.BooleanField(default=False)
    min_approvals = models.PositiveSmallIntegerField(default=1)
    reminder_after = models.DurationField(null=True, blank=True)
    reminder_repeat = models.DurationField(null=True, blank=True)
    max_reminders = models.PositiveSmallIntegerField(default=3)
    escalate_after = models.DurationField(null=True, blank=True)
    timeout_after = models.DurationField(default=timedelta(hours=24))
    timeout_action = models.CharField(
        max_length=16, choices=TimeoutAction.choices, default=TimeoutAction.AUTO_APPROVE
    )
    notify_requester = models.BooleanField(default=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel_email=True) | Q(channel_sms=True),
                name="flow_has_a_channel",
            ),
            models.CheckConstraint(condition=Q(min_approvals__gte=1), name="flow_min_approvals"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def channels(self) -> list[str]:
        return [
            name for name, on in (("Email", self.channel_email), ("SMS", self.channel_sms)) if on
        ]


class ApprovalLevel(models.Model):
    """One level of approvers; later levels are asked when the flow escalates."""

    flow = models.ForeignKey(ApprovalFlow, on_delete=models.CASCADE, related_name="levels")
    position = models.PositiveSmallIntegerField(default=1)
    people = models.ManyToManyField(Person, related_name="approver_levels", blank=True)
    groups = models.ManyToManyField(Group, related_name="approver_levels", blank=True)
    backup_people = models.ManyToManyField(
        Person,
        related_name="backup_approver_levels",
        blank=True,
        help_text="May decide but are not notified.",
    )

    class Meta:
        ordering = ["flow_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["flow", "position"], name="level_unique_position"),
        ]

    def __str__(self) -> str:
        return f"{self.flow.name} · level {self.position}"
