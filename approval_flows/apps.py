from __future__ import annotations

from django.apps import AppConfig


class ApprovalFlowsConfig(AppConfig):
    name = "approval_flows"
