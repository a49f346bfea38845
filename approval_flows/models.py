"""Approval flows: who is asked to approve, through which channels, and on what clock."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

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
    # No timeout by default: a request waits for a person. Auto-approve is always chosen by hand.
    timeout_after = models.DurationField(
        null=True, blank=True, help_text="Empty: a request waits until someone decides."
    )
    timeout_action = models.CharField(
        max_length=16, choices=TimeoutAction.choices, default=TimeoutAction.EXPIRE
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


class Notification(models.Model):
    """The outbox: one message to one person through one channel, for one occasion of a request.

    - Written in the transaction that causes it (a new request, a reminder…), sent after commit.
    - The content is rendered by the caller; this app only stores, sends and records.
    - `sequence` tells repeated occasions apart (the 1st, 2nd… reminder): the unique constraint
      means a message is queued once, whatever retries or races happen upstream.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"

    class Occasion(models.TextChoices):
        NEW_REQUEST = "new_request", "New request"
        REMINDER = "reminder", "Reminder"
        ESCALATION = "escalation", "Escalation"
        DECIDED_ELSEWHERE = "decided_elsewhere", "Decided by someone else"
        OUTCOME = "outcome", "Outcome to the requester"
        TEST = "test", "Test message"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    request_public_id = models.UUIDField(null=True, blank=True, db_index=True)
    recipient = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    address = models.CharField(max_length=254, help_text="Email address or E.164 phone number.")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    occasion = models.CharField(max_length=20, choices=Occasion.choices)
    sequence = models.PositiveSmallIntegerField(default=0)
    subject = models.CharField(max_length=300, blank=True)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(max_length=64, blank=True, help_text="e.g. Twilio's SID")
    provider_status = models.CharField(max_length=32, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="notification_due",
                condition=Q(status__in=["pending", "sending"]),
            ),
            models.Index(fields=["provider_id"], name="notification_provider_id"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["request_public_id", "recipient", "channel", "occasion", "sequence"],
                name="notification_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_occasion_display()} to {self.address} by {self.channel} ({self.status})"
