from __future__ import annotations

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"

    def ready(self) -> None:
        # Registers the tasks that services publish by name (agenwork.broker.publish).
        from dashboard import tasks  # noqa: F401
