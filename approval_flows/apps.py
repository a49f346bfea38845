from __future__ import annotations

from django.apps import AppConfig


class ApprovalFlowsConfig(AppConfig):
    name = "approval_flows"

    def ready(self) -> None:
        # Registers the tasks that services publish by name (agenwork.broker.publish).
        from approval_flows import tasks  # noqa: F401
