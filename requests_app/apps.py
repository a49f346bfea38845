from __future__ import annotations

from django.apps import AppConfig


class RequestsAppConfig(AppConfig):
    name = "requests_app"

    def ready(self) -> None:
        # Registers the tasks that services publish by name (agenwork.broker.publish).
        from requests_app import tasks  # noqa: F401
