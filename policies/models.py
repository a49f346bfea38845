"""Policies: who may use which tools of a connector, and with what action."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

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
