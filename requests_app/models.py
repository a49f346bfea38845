"""Access requests raised when a policy asks for approval, and their append-only history."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from approval_flows.models import ApprovalFlow
from connectors.models import Connector, Tool
from directory.models import Person
from gateways.models import ApiKey
from policies.models import Policy


class Channel(models.TextChoices):
    """Where a decision or change came from."""

    WEB = "web", "Web"
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    TIMEOUT = "timeout", "Timeout"
    POLICY = "policy", "Policy"
    API = "api", "API"
    GATEWAY = "mcp", "MCP gateway"
    SYSTEM = "system", "System"


class AccessRequest(models.Model):
    """An agent's paused tool call waiting for (or resolved by) a human decision.

    - The requester's name and identifier and the connector's name are copied onto the row so
      that the Requests page sorts on an index of this table alone, never on a join.
    - `first_tool_key`, `tool_count` and `tool_keys` likewise let the list show its Tools column
      (the first tool, and "+N" naming the others) without reading the request's tools.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        DENIED = "denied", "Denied"
        AUTO_APPROVED = "auto_approved", "Auto-approved"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"

    # The allowed status moves: every transition starts from a pending request.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.PENDING: frozenset(
            {
                Status.APPROVED,
                Status.DENIED,
                Status.AUTO_APPROVED,
                Status.EXPIRED,
                Status.CANCELLED,
            }
        ),
    }
    APPROVED_STATUSES = frozenset({Status.APPROVED, Status.AUTO_APPROVED})

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    requester = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="access_requests")
    requester_name = models.CharField(max_length=200)
    requester_identifier = models.CharField(max_length=254)
    connector = models.ForeignKey(Connector, on_delete=models.PROTECT, related_name="requests")
    connector_name = models.CharField(max_length=200)
    first_tool_key = models.CharField(max_length=200)
    tool_count = models.PositiveSmallIntegerField(default=1)
    tool_keys = models.TextField(
        blank=True, help_text="Every tool's key, in order, space-separated."
    )
    note = models.TextField(max_length=2000, blank=True)
    agent = models.CharField(max_length=200, blank=True)
    arguments = models.JSONField(null=True, blank=True)
    dedupe_key = models.CharField(max_length=64, blank=True)
    sms_code = models.CharField(
        max_length=8, blank=True, help_text="What approvers reply by SMS: A <code> or D <code>."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    policy = models.ForeignKey(
        Policy, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests"
    )
    flow = models.ForeignKey(
        ApprovalFlow, null=True, blank=True, on_delete=models.PROTECT, related_name="requests"
    )
    api_key = models.ForeignKey(
        ApiKey,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="requests",
        help_text="The gateway that asked; its webhook is told of the resolution.",
    )
    requested_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_by_name = models.CharField(max_length=200, blank=True)
    decided_via = models.CharField(max_length=16, choices=Channel.choices, blank=True)
    comment = models.TextField(max_length=2000, blank=True)
    grant_expires_at = models.DateTimeField(null=True, blank=True)
    consumed_at = models.DateTimeField(null=True, blank=True)
    # Deadlines, claimed by the sweep.
    current_level = models.PositiveSmallIntegerField(default=1)
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    next_reminder_at = models.DateTimeField(null=True, blank=True)
    escalate_at = models.DateTimeField(null=True, blank=True)
    timeout_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            # One index per sort of the Requests page, led by the status filter.
            models.Index(fields=["status", "requested_at", "id"], name="req_status_requested"),
            models.Index(fields=["status", "requester_name", "id"], name="req_status_name"),
            models.Index(fields=["status", "requester_identifier", "id"], name="req_status_ident"),
            models.Index(fields=["status", "connector_name", "id"], name="req_status_connector"),
            models.Index(
                fields=["connector", "status", "requested_at", "id"], name="req_connector_status"
            ),
            models.Index(fields=["flow", "status", "requested_at"], name="req_flow_status"),
            models.Index(fields=["requester", "status"], name="req_requester_status"),
            models.Index(
                fields=["timeout_at"], name="req_pending_timeout", condition=Q(status="pending")
            ),
            # The sweep claims due reminders and escalations oldest first from these.
            models.Index(
                fields=["next_reminder_at"],
                name="req_pending_reminder",
                condition=Q(status="pending"),
            ),
            models.Index(
                fields=["escalate_at"], name="req_pending_escalation", condition=Q(status="pending")
            ),
            # The Dashboard's figures over the last days read these alone (index-only scans):
            # decisions by day, outcome and time taken; requests by connector.
            models.Index(
                fields=["decided_at", "status"],
                include=["requested_at", "flow_id"],
                name="req_decided_status",
                condition=Q(decided_at__isnull=False),
            ),
            models.Index(
                fields=["requested_at", "connector_name"],
                include=["flow_id"],
                name="req_requested_connector",
            ),
        ]
        constraints = [
            # The same gateway call while its request is pending returns that request.
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=Q(status="pending") & ~Q(dedupe_key=""),
                name="req_one_pending_per_call",
            ),
            # An SMS reply names one pending request.
            models.UniqueConstraint(
                fields=["sms_code"],
                condition=Q(status="pending") & ~Q(sms_code=""),
                name="req_sms_code_pending_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.requester_name} → {self.connector_name} ({self.get_status_display()})"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def extra_tool_count(self) -> int:
        return max(self.tool_count - 1, 0)

    @property
    def other_tool_keys(self) -> list[str]:
        """The keys after the first: what the list's "+N" badge names."""
        return self.tool_keys.split()[1:]


class RequestTool(models.Model):
    """One tool of a request, with its own decision (partial approval)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        DENIED = "denied", "Denied"

    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="tools")
    tool = models.ForeignKey(Tool, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)

    class Meta:
        ordering = ["request_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["request", "tool"], name="request_tool_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.tool_id}: {self.status}"


class RequestEvent(models.Model):
    """One append-only line of a request's history: what happened, who did it, through what."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        NOTIFIED = "notified", "Notified"
        APPROVED = "approved", "Approved"
        DENIED = "denied", "Denied"
        AUTO_APPROVED = "auto_approved", "Auto-approved"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"
        CONSUMED = "consumed", "Consumed"
        RELEASED = "released", "Approval released"
        EXECUTED = "executed", "Executed"
        REMINDED = "reminded", "Reminder sent"
        ESCALATED = "escalated", "Escalated"
        VOTED = "voted", "Vote recorded"

    request = models.ForeignKey(AccessRequest, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # PROTECT: an event is never rewritten, so a login that acted is deactivated, not deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=200, blank=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    message = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    response_ms = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="For a person's decision: milliseconds from opening the request to deciding.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["request", "created_at"], name="event_request_time"),
            # The Activity trail reads events newest first.
            models.Index(fields=["-created_at", "-id"], name="event_time"),
            # The Dashboard's approver figures: people's decisions by time (index-only scans).
            models.Index(
                fields=["created_at"],
                include=["actor_id", "actor_name", "kind", "response_ms"],
                name="event_people_decisions",
                condition=Q(kind__in=["approved", "denied", "voted"])
                & Q(channel__in=["web", "email", "sms"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.actor_name or 'system'} via {self.channel}"


class WebhookDelivery(models.Model):
    """The outbox of a resolution for a gateway's webhook: written with the decision, sent later.

    - The payload is frozen at resolution time; the task signs it when it sends.
    - `next_attempt_at` is the deadline the sweep claims: retries never sit in the broker.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="deliveries")
    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, default="request.resolved")
    url = models.URLField(max_length=500)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_due",
                condition=Q(status__in=["pending", "sending"]),
            ),
            models.Index(fields=["api_key", "-created_at"], name="delivery_key_time"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "api_key", "event"], name="delivery_once_per_event"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.url} ({self.status})"


class RequestApproval(models.Model):
    """One approver's vote on a request whose flow needs N approvals; any deny denies."""

    class Vote(models.TextChoices):
        APPROVE = "approve", "Approve"
        DENY = "deny", "Deny"

    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="votes")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    vote = models.CharField(max_length=8, choices=Vote.choices)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "person"], name="one_vote_per_approver"),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} {self.vote} {self.request_id}"


class ApproverLink(models.Model):
    """A single-use link for one approver to decide one request from an email or an SMS.

    - Only a SHA-256 of the random token is stored; the token exists only in the message.
    - It expires with the request (its timeout) and is spent by its first decision.
    """

    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="links")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["request", "person"], name="link_request_person")]

    def __str__(self) -> str:
        return f"link for {self.person_id} on {self.request_id} ({self.channel})"
