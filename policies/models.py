"""Policies: who may use which tools of a connector, and with what action."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from approval_flows.models import ApprovalFlow
from connectors.models import Connector, Tool
from directory.models import Group, Person


class Policy(models.Model):
    """A rule matching (connector, tools, people) to an action."""

    class Action(models.TextChoices):
        ALLOW = "allow", "Allow"
        STEP_UP = "step_up", "Step up"
        APPROVAL = "approval_required", "Request approval"
        DENY = "deny", "Deny"

    name = models.CharField(max_length=200)
    description = models.CharField(max_length=160, blank=True)
    connector = models.ForeignKey(Connector, on_delete=models.PROTECT, related_name="policies")
    tools = models.ManyToManyField(
        Tool, related_name="policies", blank=True, help_text="None chosen means all tools."
    )
    all_users = models.BooleanField(default=False)
    users = models.ManyToManyField(Person, related_name="policies", blank=True)
    groups = models.ManyToManyField(Group, related_name="policies", blank=True)
    action = models.CharField(max_length=32, choices=Action.choices)
    approval_flow = models.ForeignKey(
        ApprovalFlow, null=True, blank=True, on_delete=models.PROTECT, related_name="policies"
    )
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "policies"
        constraints = [
            models.CheckConstraint(
                condition=(Q(action="approval_required") & Q(approval_flow__isnull=False))
                | (~Q(action="approval_required") & Q(approval_flow__isnull=True)),
                name="policy_flow_iff_approval",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PolicySnapshotVersion(models.Model):
    """The one row whose version says when the policy snapshot must be rebuilt.

    - Bumped after commit whenever policies, people, groups, memberships, connectors or tools
      change (policies/signals.py); each process compares it with its cached snapshot.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="policy_snapshot_version_single_row"),
        ]

    def __str__(self) -> str:
        return f"Policy snapshot version {self.version}"


class DecisionLog(models.Model):
    """One decision the API made: who asked, for what, what was decided and why. Append-only."""

    created_at = models.DateTimeField()
    api_key_name = models.CharField(max_length=100, blank=True)
    user_ref = models.CharField(max_length=254, help_text="The user as the gateway named them.")
    person = models.ForeignKey(
        Person,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        db_index=False,  # decisionlog_person_time leads with it: one index less per decision
    )
    agent = models.CharField(max_length=200, blank=True)
    connector = models.ForeignKey(
        Connector,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        db_index=False,  # decisionlog_connector_time leads with it: one index less per decision
    )
    connector_slug = models.CharField(max_length=100)
    tools = models.JSONField(help_text="Tool keys as asked.")
    tool_decisions = models.JSONField(help_text="Per tool: decision, policy, reason code.")
    decision = models.CharField(max_length=32)
    reason_code = models.CharField(max_length=32)
    policy_ids = models.JSONField(default=list)
    request_public_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="decisionlog_time"),
            models.Index(fields=["person", "-created_at"], name="decisionlog_person_time"),
            models.Index(fields=["connector", "-created_at"], name="decisionlog_connector_time"),
            models.Index(fields=["decision", "-created_at"], name="decisionlog_decision_time"),
            # The Users page finds a person's decisions by email or external id, any case.
            models.Index(
                Lower("user_ref"), F("created_at").desc(), name="decisionlog_userref_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_ref} → {self.connector_slug}: {self.decision}"
